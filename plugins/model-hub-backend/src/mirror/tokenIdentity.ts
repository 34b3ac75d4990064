import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { ResponseError } from '@backstage/errors';

/**
 * The id of the auth provider that signs in the owner of a personal access
 * token for the Model Hub backend (`authModuleModelHubTokenIdentity` in the
 * auth backend; `auth.providers.model-hub-token-identity` must be set).
 *
 * @public
 */
export const MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID = 'model-hub-token-identity';

/**
 * The Backstage credentials of the owner of a personal access token, as the
 * auth backend issues them when the owner signs in: their user entity and
 * the ownership refs (groups) the catalog has for them now.
 *
 * @internal
 */
export type TokenOwnerCredentials = (
  userEntityRef: string,
) => Promise<BackstageCredentials>;

/**
 * Asks the auth backend to sign in the owner of a token (the
 * `model-hub-token-identity` provider resolves the user in the catalog, as
 * a sign-in does) and turns the issued Backstage token into credentials.
 * The request carries the Model Hub backend's own service token; the
 * provider answers only to it. The issued token is kept in memory only.
 *
 * @internal
 */
export function createAuthBackendTokenOwnerCredentials(options: {
  auth: AuthService;
  discovery: DiscoveryService;
}): TokenOwnerCredentials {
  return async userEntityRef => {
    const baseUrl = await options.discovery.getBaseUrl('auth');
    const { token: serviceToken } = await options.auth.getPluginRequestToken({
      onBehalfOf: await options.auth.getOwnServiceCredentials(),
      targetPluginId: 'auth',
    });
    const response = await fetch(
      `${baseUrl}/${MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID}/refresh?entityRef=${encodeURIComponent(
        userEntityRef,
      )}`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${serviceToken}` },
      },
    );
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    const body = (await response.json()) as { token?: unknown };
    if (typeof body.token !== 'string') {
      throw new Error(
        `The auth provider ${MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID} answered without a token`,
      );
    }
    const credentials = await options.auth.authenticate(body.token);
    const principal = credentials.principal as {
      type: string;
      userEntityRef?: string;
    };
    if (
      principal.type !== 'user' ||
      principal.userEntityRef !== userEntityRef
    ) {
      throw new Error(
        `The auth provider ${MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID} signed in someone other than ${userEntityRef}`,
      );
    }
    return credentials;
  };
}
