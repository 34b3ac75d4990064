import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';

/** A personal access token of the Model Hub mirror, without its secret. @public */
export type AccessToken = {
  id: string;
  name: string;
  /** `hf_` and the next 4 characters of the token. */
  prefix: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
};

/** A token just created: the only time its secret `token` is shown. @public */
export type CreatedAccessToken = AccessToken & { token: string };

/**
 * The personal access token routes of the Model Hub backend
 * (`/api/model-hub/tokens`).
 *
 * @internal
 */
export class AccessTokensClient {
  constructor(
    private readonly options: {
      discoveryApi: DiscoveryApi;
      fetchApi: FetchApi;
    },
  ) {}

  /** The base URL of the mirror, for `HF_ENDPOINT`. */
  async mirrorUrl(): Promise<string> {
    return `${await this.options.discoveryApi.getBaseUrl('model-hub')}/hf`;
  }

  private async request(path: string, init?: RequestInit): Promise<Response> {
    const base = await this.options.discoveryApi.getBaseUrl('model-hub');
    const response = await this.options.fetchApi.fetch(`${base}${path}`, init);
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return response;
  }

  async list(): Promise<AccessToken[]> {
    const response = await this.request('/tokens');
    return (await response.json()).items;
  }

  async create(options: {
    name: string;
    expiresInDays?: number;
  }): Promise<CreatedAccessToken> {
    const response = await this.request('/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(options),
    });
    return response.json();
  }

  async revoke(id: string): Promise<void> {
    await this.request(`/tokens/${encodeURIComponent(id)}`, {
      method: 'DELETE',
    });
  }
}
