import {
  DiscoveryApi,
  FetchApi,
  discoveryApiRef,
  fetchApiRef,
  useApiHolder,
} from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type { HubImportEvidence } from '@model-hub/backstage-plugin-model-hub-common';
import { useCallback } from 'react';

// The import-evidence shape of the REST API lives in -common.
export type { HubImportEvidence };

const modelPath = (entityRef: string) => {
  const [, namespace, name] = /^(?:model:)?(?:([^/]+)\/)?(.+)$/.exec(
    entityRef,
  )!;
  return `/models/${encodeURIComponent(
    namespace ?? 'default',
  )}/${encodeURIComponent(name)}`;
};

async function check(res: Response): Promise<Response> {
  if (!res.ok) {
    throw await ResponseError.fromResponse(res);
  }
  return res;
}

/** The transfer routes of the Model Hub backend. */
export class TransferClient {
  constructor(
    private readonly discoveryApi: DiscoveryApi,
    private readonly fetchApi: FetchApi,
  ) {}

  private async url(path: string) {
    return `${await this.discoveryApi.getBaseUrl('model-hub')}${path}`;
  }

  /** A signed bundle of one version (`POST /transfer/export`). */
  async exportVersion(entityRef: string, label: string): Promise<Blob> {
    const res = await this.fetchApi.fetch(await this.url('/transfer/export'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        versions: [{ model: entityRef, version: label }],
      }),
    });
    return (await check(res)).blob();
  }

  /** The evidence an imported version came with, or null. */
  async getImportEvidence(
    entityRef: string,
    label: string,
  ): Promise<HubImportEvidence | null> {
    const res = await this.fetchApi.fetch(
      await this.url(
        `${modelPath(entityRef)}/versions/${encodeURIComponent(
          label,
        )}/import-evidence`,
      ),
    );
    return (
      (await (await check(res)).json()) as {
        imported: HubImportEvidence | null;
      }
    ).imported;
  }
}

/**
 * The client, from the app's discovery and fetch APIs; resolved when it is
 * first used (so that a page whose app lacks them still renders, without
 * the transfer parts).
 */
export function useTransferClient(): () => TransferClient {
  const apis = useApiHolder();
  return useCallback(() => {
    const discoveryApi = apis.get(discoveryApiRef);
    const fetchApi = apis.get(fetchApiRef);
    if (!discoveryApi || !fetchApi) {
      throw new Error('The discovery and fetch APIs are not available');
    }
    return new TransferClient(discoveryApi, fetchApi);
  }, [apis]);
}
