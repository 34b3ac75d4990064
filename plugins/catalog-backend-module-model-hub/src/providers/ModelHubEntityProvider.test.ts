import { ConfigReader } from '@backstage/config';
import {
  filterCatalogTags,
  ModelHubFeedItem,
  sanitizeEntityName,
  toModelEntity,
} from './ModelHubEntityProvider';
import { readModelHubEntityProviderConfigs } from './ModelHubEntityProviderConfig';

const item: ModelHubFeedItem = {
  entityRef: 'model:default/acme--tiny-llm',
  namespace: 'default',
  name: 'acme--tiny-llm',
  title: 'acme/tiny-llm',
  type: 'llm',
  task: 'text-generation',
  format: 'safetensors',
  license: 'apache-2.0',
  lifecycle: 'experimental',
  owner: 'group:default/ml-team',
  sourceType: 'huggingface',
  source: { huggingface: { repo: 'acme/tiny-llm', revision: 'main' } },
  tags: ['huggingface', 'Llama', 'base_model:acme/x', 'region:us', 'no spaces allowed!'],
  updatedAt: '2026-01-01T00:00:00.000Z',
  huggingface: {
    repoId: 'acme/tiny-llm',
    revision: 'main',
    lastSyncedCommit: 'a'.repeat(40),
    upstreamCommit: 'b'.repeat(40),
    drift: true,
    baseModels: ['acme/tiny-llm-base'],
    datasets: ['wikitext'],
  },
};

describe('ModelHubEntityProvider helpers', () => {
  it('builds a valid Model entity with both location annotations', () => {
    const entity = toModelEntity(item, { location: 'url:http://hub/models/default/acme--tiny-llm' });
    expect(entity).toEqual({
      apiVersion: 'model-hub.dev/v1alpha1',
      kind: 'Model',
      metadata: {
        name: 'acme--tiny-llm',
        namespace: 'default',
        title: 'acme/tiny-llm',
        tags: ['huggingface', 'llama', 'base-model:acme-x', 'region:us'],
        annotations: {
          'backstage.io/managed-by-location': 'url:http://hub/models/default/acme--tiny-llm',
          'backstage.io/managed-by-origin-location':
            'url:http://hub/models/default/acme--tiny-llm',
          'model-hub.dev/origin': 'hub',
          'huggingface.co/repo-id': 'acme/tiny-llm',
          'model-hub.dev/synced-commit': 'a'.repeat(40),
          'model-hub.dev/upstream-commit': 'b'.repeat(40),
          'model-hub.dev/upstream-drift': 'true',
        },
        links: [
          { url: 'https://huggingface.co/acme/tiny-llm', title: 'Hugging Face', type: 'huggingface' },
        ],
      },
      spec: {
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/ml-team',
        task: 'text-generation',
        format: 'safetensors',
        license: 'apache-2.0',
        source: { huggingface: { repo: 'acme/tiny-llm', revision: 'main' } },
        baseModels: ['acme--tiny-llm-base'],
      },
    });
  });

  it('sanitizes names and tags', () => {
    expect(sanitizeEntityName('Org/Some Model_v1.0')).toBe('Org--Some-Model_v1.0');
    expect(sanitizeEntityName('-/-')).toBe('model');
    expect(sanitizeEntityName(`a/${'b'.repeat(80)}`)).toHaveLength(63);
    expect(filterCatalogTags(['A_B', 'x y', 'ok', '???', 'ok'])).toEqual(['a-b', 'x-y', 'ok']);
  });

  it('reads the provider config', () => {
    expect(readModelHubEntityProviderConfigs(new ConfigReader({}))).toEqual([
      expect.objectContaining({ id: 'default', pageSize: 500 }),
    ]);
    expect(
      readModelHubEntityProviderConfigs(
        new ConfigReader({
          catalog: {
            providers: {
              modelHub: { schedule: { frequency: { minutes: 5 }, timeout: { minutes: 1 } } },
            },
          },
        }),
      ),
    ).toEqual([
      expect.objectContaining({
        id: 'default',
        schedule: { frequency: { minutes: 5 }, timeout: { minutes: 1 } },
      }),
    ]);
    expect(
      readModelHubEntityProviderConfigs(
        new ConfigReader({ catalog: { providers: { modelHub: { enabled: false } } } }),
      ),
    ).toEqual([]);
    expect(() =>
      readModelHubEntityProviderConfigs(
        new ConfigReader({ catalog: { providers: { modelHub: { pageSize: 0 } } } }),
      ),
    ).toThrow('catalog.providers.modelHub.pageSize must be an integer from 1 to 1000, got 0');
  });
});
