import {
  mockServices,
  registerMswTestHooks,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { CatalogProcessorCache } from '@backstage/plugin-catalog-node';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { ModelHubSyncProcessor } from './ModelHubSyncProcessor';

const HUB = 'http://hub.test/api/model-hub';
const location = {
  type: 'url',
  target: 'http://example.com/catalog-info.yaml',
};

function model(spec: Record<string, unknown> = {}, annotations = {}): Entity {
  return {
    apiVersion: 'model-hub.dev/v1alpha1',
    kind: 'Model',
    metadata: { name: 'llama', namespace: 'default', annotations },
    spec: { type: 'llm', lifecycle: 'production', owner: 'ml-team', ...spec },
  };
}

/** The processor cache of one entity, as the catalog keeps it. */
function cache(): CatalogProcessorCache & { values: Map<string, unknown> } {
  const values = new Map<string, unknown>();
  return {
    values,
    get: async key => values.get(key) as any,
    set: async (key, value) => {
      values.set(key, value);
    },
  };
}

describe('ModelHubSyncProcessor', () => {
  const server = setupServer();
  registerMswTestHooks(server);

  const received: Array<{ auth: string | null; body: any }> = [];
  let status = 200;
  beforeEach(() => {
    received.length = 0;
    status = 200;
    server.use(
      http.post(`${HUB}/catalog-sync/entities`, async ({ request }) => {
        received.push({
          auth: request.headers.get('authorization'),
          body: await request.json(),
        });
        return status === 200
          ? HttpResponse.json({ results: [] })
          : HttpResponse.json({ error: { message: 'down' } }, { status });
      }),
    );
  });

  const processor = new ModelHubSyncProcessor({
    discovery: mockServices.discovery.mock({
      getBaseUrl: async () => HUB,
      getExternalBaseUrl: async () => HUB,
    }),
    auth: mockServices.auth(),
    logger: mockServices.logger.mock(),
  });
  const emit = jest.fn();

  it('sends a changed Model once, with a service token, and again when it changes', async () => {
    const c = cache();
    const entity = model();

    await expect(
      processor.postProcessEntity(entity, location, emit, c),
    ).resolves.toBe(entity);
    expect(received).toEqual([
      {
        auth: expect.stringMatching(/^Bearer .+/),
        body: { entities: [entity] },
      },
    ]);
    // processed again unchanged: no request
    await processor.postProcessEntity(model(), location, emit, c);
    expect(received).toHaveLength(1);
    // edited owner: sent again
    const edited = model({ owner: 'ml-platform' });
    await processor.postProcessEntity(edited, location, emit, c);
    expect(received).toHaveLength(2);
    expect(received[1].body.entities[0].spec.owner).toBe('ml-platform');
    expect(emit).not.toHaveBeenCalled();
  });

  it('retries on the next processing when the hub does not answer', async () => {
    const c = cache();
    status = 503;
    await processor.postProcessEntity(model(), location, emit, c);
    expect(received).toHaveLength(1);
    expect(c.values.size).toBe(0);
    status = 200;
    await processor.postProcessEntity(model(), location, emit, c);
    expect(received).toHaveLength(2);
    expect(c.values.size).toBe(1);
  });

  it('skips other kinds and the Models the hub itself emits', async () => {
    const c = cache();
    await processor.postProcessEntity(
      { ...model(), apiVersion: 'backstage.io/v1alpha1', kind: 'Component' },
      location,
      emit,
      c,
    );
    await processor.postProcessEntity(
      model({}, { 'model-hub.dev/origin': 'hub' }),
      location,
      emit,
      c,
    );
    await processor.postProcessEntity(
      model(
        {},
        {
          'backstage.io/managed-by-location': `url:${HUB}/models/default/llama`,
        },
      ),
      location,
      emit,
      c,
    );
    expect(received).toEqual([]);
  });
});
