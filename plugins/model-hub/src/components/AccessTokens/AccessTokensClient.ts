import { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type {
  AccessToken,
  CreateAccessTokenRequest,
  CreatedAccessToken,
} from '@model-hub/backstage-plugin-model-hub-common';

// The token shapes of the REST API live in -common.
export type { AccessToken, CreatedAccessToken };

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

  async create(options: CreateAccessTokenRequest): Promise<CreatedAccessToken> {
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
