import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { CatalogModelSync } from './CatalogModelSync';

// The reconcile of catalog Models into hub rows against SQLite and
// PostgreSQL, with an in-memory catalog that the test edits between passes.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const HUB_BASE = 'http://localhost:7007/api/model-hub';

function model(
  name: string,
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): Entity {
  return {
    apiVersion: 'model-hub.dev/v1alpha1',
    kind: 'Model',
    metadata: { name, namespace: 'default', ...metadata },
    spec: {
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'ml-engineers',
      ...spec,
    },
  };
}

describe.each(databases.eachSupportedId())('CatalogModelSync (%s)', id => {
  async function setup() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    let current = catalogServiceMock({ entities: [] });
    const queries: unknown[] = [];
    let failOnQuery: number | undefined;
    const catalog = {
      queryEntities: async (req: any, opts: any) => {
        queries.push(req);
        if (failOnQuery !== undefined && queries.length === failOnQuery) {
          throw new Error('catalog unavailable');
        }
        return current.queryEntities(req, opts);
      },
      getEntityByRef: async (ref: any, opts: any) =>
        current.getEntityByRef(ref, opts),
    } as unknown as CatalogService;
    const auditor = mockServices.auditor.mock();
    const sync = new CatalogModelSync({
      db: knex,
      store,
      catalog,
      auth: mockServices.auth(),
      discovery: mockServices.discovery.mock({
        getExternalBaseUrl: async () => HUB_BASE,
      }),
      auditor,
      logger: mockServices.logger.mock(),
      pageSize: 2,
    });
    return {
      knex,
      store,
      sync,
      auditor,
      queries,
      setCatalog: (entities: Entity[]) => {
        current = catalogServiceMock({ entities });
      },
      failOnQuery: (n: number | undefined) => {
        failOnQuery = n;
      },
      get: (name: string) =>
        store.getModel({ entityRef: `model:default/${name}` }),
    };
  }

  it('creates, updates, orphans and restores catalog models; API models and provider entities are left alone', async () => {
    const t = await setup();
    // created through the API: the hub is its source of truth
    await t.store.createModel({
      namespace: 'default',
      name: 'api-model',
      type: 'embedding',
      lifecycle: 'production',
      owner: 'group:default/ml-engineers',
      sourceType: 'upload',
      tags: [],
      createdBy: 'user:default/alice',
    });
    t.setCatalog([
      model(
        'llama',
        { system: 'assistants', tags: ['ignored'] },
        {
          title: 'Llama',
          tags: ['chat'],
        },
      ),
      model('mistral', { source: { huggingface: { repo: 'org/mistral' } } }),
      // a YAML Model with the ref of the API model
      model('api-model', { owner: 'someone-else' }),
      // emitted by the Model Hub entity provider (annotation, or location)
      model(
        'hub-emitted',
        {},
        {
          annotations: { 'model-hub.dev/origin': 'hub' },
        },
      ),
      model(
        'hub-located',
        {},
        {
          annotations: {
            'backstage.io/managed-by-location': `url:${HUB_BASE}/models/default/hub-located`,
          },
        },
      ),
    ]);

    await expect(t.sync.reconcile()).resolves.toEqual({
      created: 2,
      updated: 0,
      restored: 0,
      unchanged: 0,
      skipped: 3,
      orphaned: 0,
    });
    await expect(t.get('llama')).resolves.toMatchObject({
      title: 'Llama',
      owner: 'group:default/ml-engineers',
      system: 'system:default/assistants',
      tags: ['chat'],
      origin: 'catalog',
      createdBy: 'catalog',
    });
    await expect(t.get('mistral')).resolves.toMatchObject({
      sourceType: 'huggingface',
      source: { huggingface: { repo: 'org/mistral' } },
    });
    await expect(t.get('api-model')).resolves.toMatchObject({
      owner: 'group:default/ml-engineers',
      origin: 'hub',
    });
    await expect(t.get('hub-emitted')).resolves.toBeUndefined();
    await expect(t.get('hub-located')).resolves.toBeUndefined();

    // unchanged entities cost no write of their fields
    const before = await t.get('llama');
    await expect(t.sync.reconcile()).resolves.toMatchObject({
      created: 0,
      updated: 0,
      unchanged: 2,
    });
    expect((await t.get('llama'))!.updatedAt).toBe(before!.updatedAt);

    // edited in YAML; mistral removed (orphaned); the catalog keeps a
    // removed entity with the orphan annotation until its cleanup
    t.setCatalog([
      model(
        'llama',
        {
          owner: 'group:default/ml-platform',
          lifecycle: 'production',
          system: 'chatbots',
        },
        { title: 'Llama 3', tags: ['chat', 'support'] },
      ),
      model('mistral', {}, { annotations: { 'backstage.io/orphan': 'true' } }),
    ]);
    await expect(t.sync.reconcile()).resolves.toMatchObject({
      updated: 1,
      orphaned: 1,
    });
    await expect(t.get('llama')).resolves.toMatchObject({
      title: 'Llama 3',
      owner: 'group:default/ml-platform',
      lifecycle: 'production',
      system: 'system:default/chatbots',
      tags: ['chat', 'support'],
    });
    const orphan = await t.get('mistral');
    expect(orphan!.orphanedAt).toEqual(expect.any(String));
    expect((await t.get('api-model'))!.orphanedAt).toBeUndefined();
    // the tag index follows the catalog
    const tagged = await t.store.listModels({
      offset: 0,
      limit: 10,
      filter: { tag: ['support'] },
    });
    expect(tagged.items.map(m => m.name)).toEqual(['llama']);

    // back in the catalog: restored
    t.setCatalog([
      model(
        'llama',
        {
          owner: 'group:default/ml-platform',
          lifecycle: 'production',
          system: 'chatbots',
        },
        { title: 'Llama 3', tags: ['chat', 'support'] },
      ),
      model('mistral', { source: { huggingface: { repo: 'org/mistral' } } }),
    ]);
    await expect(t.sync.reconcile()).resolves.toMatchObject({
      restored: 1,
      unchanged: 1,
    });
    expect((await t.get('mistral'))!.orphanedAt).toBeUndefined();

    // every change is in the audit trail, by the catalog
    const trail = await t
      .knex('audit_events')
      .orderBy('id')
      .select('event_id', 'actor', 'model_ref');
    expect(trail.map(r => `${r.event_id} ${r.actor} ${r.model_ref}`)).toEqual([
      'model-catalog-created catalog model:default/llama',
      'model-catalog-created catalog model:default/mistral',
      'model-catalog-updated catalog model:default/llama',
      'model-catalog-orphaned catalog model:default/mistral',
      'model-catalog-restored catalog model:default/mistral',
    ]);
  });

  it('keeps the pass in the database: an interrupted pass resumes from its cursor and orphans only what it did not see', async () => {
    const t = await setup();
    t.setCatalog(['a', 'b', 'c', 'd', 'e'].map(n => model(n)));
    await t.sync.reconcile();
    expect(t.queries).toHaveLength(3); // pages of 2

    // e leaves the catalog; the catalog fails on the second page
    t.setCatalog(['a', 'b', 'c', 'd'].map(n => model(n)));
    t.queries.length = 0;
    t.failOnQuery(2);
    await expect(t.sync.reconcile()).rejects.toThrow('catalog unavailable');
    const state = await t.sync.getState();
    expect(state).toMatchObject({
      passStartedAt: expect.any(String),
      lastError: 'Error: catalog unavailable',
    });
    const row = await t.knex('catalog_sync_state').first();
    expect(row.cursor).toEqual(expect.any(String));
    expect((await t.get('e'))!.orphanedAt).toBeUndefined();

    // a new sync object (a restarted backend) resumes the same pass
    t.failOnQuery(undefined);
    t.queries.length = 0;
    const resumed = new CatalogModelSync({
      db: t.knex,
      store: t.store,
      catalog: (t.sync as any).options.catalog,
      auth: mockServices.auth(),
      discovery: mockServices.discovery.mock({
        getExternalBaseUrl: async () => HUB_BASE,
      }),
      auditor: t.auditor,
      logger: mockServices.logger.mock(),
      pageSize: 2,
    });
    await expect(resumed.reconcile()).resolves.toMatchObject({
      unchanged: 2, // c and d: a and b were seen before the failure
      orphaned: 1,
    });
    expect(t.queries).toEqual([
      expect.objectContaining({ cursor: row.cursor }),
    ]);
    expect((await t.get('e'))!.orphanedAt).toEqual(expect.any(String));
    for (const name of ['a', 'b', 'c', 'd']) {
      expect((await t.get(name))!.orphanedAt).toBeUndefined();
    }
    const done = await resumed.getState();
    expect(done.passStartedAt).toBeUndefined();
    expect(done.lastError).toBeUndefined();
    expect(done.lastResult).toMatchObject({ orphaned: 1 });
  });

  it('neither reverts nor orphans what the catalog reported before committing it', async () => {
    const t = await setup();
    t.setCatalog([model('edited', { lifecycle: 'experimental' })]);
    await t.sync.reconcile();

    // the catalog module reports an edit and a new Model while the catalog
    // processes them; a pass reads the catalog before it committed them
    await t.sync.applyEntities(
      [model('edited', { lifecycle: 'production' }), model('brand-new')],
      new Date(),
      { notified: true },
    );
    await expect(t.sync.reconcile()).resolves.toMatchObject({
      updated: 0,
      orphaned: 0,
    });
    expect((await t.get('edited'))!.lifecycle).toBe('production');
    expect((await t.get('brand-new'))!.orphanedAt).toBeUndefined();

    // committed: the pass agrees; removed later: orphaned
    t.setCatalog([
      model('edited', { lifecycle: 'production' }),
      model('brand-new'),
    ]);
    await expect(t.sync.reconcile()).resolves.toMatchObject({
      unchanged: 2,
      orphaned: 0,
    });
    t.setCatalog([model('edited', { lifecycle: 'production' })]);
    await expect(t.sync.reconcile()).resolves.toMatchObject({ orphaned: 1 });
    expect((await t.get('brand-new'))!.orphanedAt).toEqual(expect.any(String));
  });

  it('applies entities the catalog reports, only from the catalog itself', async () => {
    const t = await setup();
    const router = await createRouter({
      store: t.store,
      artifacts: await LocalArtifactStore.create({
        path: join(tmpdir(), `model-hub-sync-${Math.random()}`),
      }),
      catalogSync: t.sync,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({ pluginId: 'model-hub' }),
      userInfo: mockServices.userInfo(),
      permissions: mockServices.permissions(),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
    });
    const app = express().use(router).use(mockErrorHandler());
    const body = { entities: [model('fresh', { lifecycle: 'production' })] };

    await request(app)
      .post('/catalog-sync/entities')
      .set('Authorization', mockCredentials.user.header())
      .send(body)
      .expect(403);
    const other = await request(app)
      .post('/catalog-sync/entities')
      .set(
        'Authorization',
        mockCredentials.service.header({
          onBehalfOf: mockCredentials.service('plugin:scaffolder'),
          targetPluginId: 'model-hub',
        }),
      )
      .send(body)
      .expect(403);
    expect(other.body.error.message).toBe(
      'Only the catalog may report processed catalog entities',
    );
    await expect(t.get('fresh')).resolves.toBeUndefined();

    const catalogHeader = mockCredentials.service.header({
      onBehalfOf: mockCredentials.service('plugin:catalog'),
      targetPluginId: 'model-hub',
    });
    const bad = await request(app)
      .post('/catalog-sync/entities')
      .set('Authorization', catalogHeader)
      .send({ entities: [] })
      .expect(400);
    expect(bad.body.error.message).toContain('entities');
    const res = await request(app)
      .post('/catalog-sync/entities')
      .set('Authorization', catalogHeader)
      .send(body)
      .expect(200);
    expect(res.body.results).toEqual([
      { entityRef: 'model:default/fresh', change: 'created' },
    ]);
    await expect(t.get('fresh')).resolves.toMatchObject({
      lifecycle: 'production',
      origin: 'catalog',
    });
    // reported again unchanged: nothing to do
    const again = await request(app)
      .post('/catalog-sync/entities')
      .set('Authorization', catalogHeader)
      .send(body)
      .expect(200);
    expect(again.body.results[0].change).toBe('unchanged');
  });
});
