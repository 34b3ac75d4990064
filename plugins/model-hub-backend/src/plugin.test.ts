import {
  createMockDirectory,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { modelHubPlugin } from './plugin';

jest.setTimeout(30_000);

const mockDir = createMockDirectory();

describe('modelHubPlugin', () => {
  async function start(permissions?: AuthorizeResult.DENY) {
    return startTestBackend({
      features: [
        modelHubPlugin,
        mockServices.rootConfig.factory({
          data: { modelHub: { storage: { local: { path: mockDir.path } } } },
        }),
        catalogServiceMock.factory({ entities: [] }),
        ...(permissions
          ? [mockServices.permissions.factory({ result: permissions })]
          : []),
      ],
    });
  }

  it('schedules the tasks of the core and of every feature', async () => {
    const scheduler = mockServices.scheduler.mock();
    await startTestBackend({
      features: [
        modelHubPlugin,
        mockServices.rootConfig.factory({
          data: {
            modelHub: {
              storage: { local: { path: mockDir.path } },
              retention: { keepDeprecated: 2 },
            },
          },
        }),
        catalogServiceMock.factory({ entities: [] }),
        scheduler.factory,
      ],
    });
    const tasks = scheduler.scheduleTask.mock.calls.map(([task]) => [
      task.id,
      task.scope,
    ]);
    // global: one run per interval across the instances; local: each
    // instance cleans its own disk and resumes its own deliveries
    expect(tasks.sort()).toEqual([
      ['huggingface-sync', 'global'],
      ['model-hub-catalog-sync', 'global'],
      ['model-hub-retention', 'global'],
      ['model-hub-runtime-source-sync', 'global'],
      ['model-hub-source-status', 'global'],
      ['model-hub-store-cleanup', 'global'],
      ['model-hub-store-gc', 'global'],
      ['model-hub-uploads-cleanup', 'local'],
      ['model-hub-webhook-redelivery', 'local'],
    ]);
  });

  it('serves the API and lists its permissions in the metadata', async () => {
    const { server } = await start();
    const created = await request(server)
      .post('/api/model-hub/models')
      .send({ name: 'm', type: 'llm', owner: 'user:default/mock' })
      .expect(201);
    expect(created.body.entityRef).toBe('model:default/m');
    await request(server)
      .put('/api/model-hub/models/default/m/versions/v1/files/a.bin')
      .send('x')
      .expect(404);
    await request(server)
      .post('/api/model-hub/models/default/m/versions')
      .send({ label: 'v1' })
      .expect(201);
    await request(server)
      .put('/api/model-hub/models/default/m/versions/v1/files/a.bin')
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('hello'))
      .expect(201);
    const list = await request(server).get('/api/model-hub/models').expect(200);
    expect(list.body.totalCount).toBe(1);

    const metadata = await request(server)
      .get('/api/model-hub/.well-known/backstage/permissions/metadata')
      .expect(200);
    expect(metadata.body.permissions.map((p: any) => p.name).sort()).toEqual([
      'model-hub.admin',
      'model-hub.artifact.download',
      'model-hub.artifact.upload',
      'model-hub.audit.read',
      'model-hub.deploy',
      'model-hub.export',
      'model-hub.import',
      'model-hub.model.create',
      'model-hub.model.read',
      'model-hub.sync.trigger',
      'model-hub.version.approve',
      'model-hub.version.create',
      'model-hub.version.review',
    ]);
    expect(
      metadata.body.permissions.find(
        (p: any) => p.name === 'model-hub.artifact.upload',
      ),
    ).toEqual({
      type: 'resource',
      name: 'model-hub.artifact.upload',
      attributes: { action: 'update' },
      resourceType: 'catalog-entity',
    });
  });

  it('inspects files uploaded with PUT and forgets them when deleted', async () => {
    const { server } = await start();
    await request(server)
      .post('/api/model-hub/models')
      .send({ name: 'pickled', type: 'tabular', owner: 'user:default/mock' })
      .expect(201);
    await request(server)
      .post('/api/model-hub/models/default/pickled/versions')
      .send({ label: 'v1' })
      .expect(201);
    const base = '/api/model-hub/models/default/pickled/versions/v1';
    // protocol 2 pickle: GLOBAL os system, then STOP
    const pickle = Buffer.from('\x80\x02cos\nsystem\nq\x00.', 'latin1');
    await request(server)
      .put(`${base}/files/model.pkl`)
      .set('Content-Type', 'application/octet-stream')
      .send(pickle)
      .expect(201);
    const names = async () =>
      (
        await request(server).get(`${base}/review`).expect(200)
      ).body.checks.items
        .map((c: { name: string }) => c.name)
        .filter((n: string) => n.endsWith(':model.pkl'));
    expect((await names()).length).toBeGreaterThan(0);
    await request(server).delete(`${base}/files/model.pkl`).expect(204);
    expect(await names()).toEqual([]);
  });

  it('answers 403 when the policy denies', async () => {
    const { server } = await start(AuthorizeResult.DENY);
    await request(server)
      .post('/api/model-hub/models')
      .send({ name: 'm', type: 'llm', owner: 'user:default/mock' })
      .expect(403);
    await request(server).get('/api/model-hub/stats').expect(200);
  });
});
