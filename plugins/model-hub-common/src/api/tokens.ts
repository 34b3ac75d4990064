/**
 * A personal access token of the Model Hub mirror, without its secret
 * (`GET /tokens`).
 *
 * @public
 */
export type AccessToken = {
  id: string;
  name: string;
  /** `hf_` and the next 4 characters of the token. */
  prefix: string;
  /** Present in `GET /admin/tokens`. */
  userEntityRef?: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
};

/**
 * A token just created (`POST /tokens`): the only time its secret `token`
 * is shown.
 *
 * @public
 */
export type CreatedAccessToken = AccessToken & { token: string };

/** A new personal access token (`POST /tokens`). @public */
export type CreateAccessTokenRequest = {
  name: string;
  /** At most `modelHub.mirror.tokens.maxLifetimeDays` (the default). */
  expiresInDays?: number;
};
