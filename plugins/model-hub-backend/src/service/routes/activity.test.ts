import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { LocalArtifactStore } from '../../store/LocalArtifactStore';
import { createRouter } from '../../tests/__testUtils__/router';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const ALICE = 'user:default/alice';
const FILES = '/models/default/llama/versions/v1/files';
const content = Buffer.from('0123456789abcdefghij');

function today(offsetDays = 0) {
  return new Date(Date.now() + offsetDays * 86_400_000)
    .toISOString()
    .slice(0, 10);
}

describe.each(databases.eachSupportedId())('activity routes (%s)', id => {
  async function setup() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, String(Math.random())),
    });
    const logger = mockServices.logger.mock();
    const router = await createRouter({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({
        defaultCredentials: mockCredentials.user(ALICE),
      }),
      userInfo: {
        getUserInfo: async (credentials: any) => ({
          userEntityRef: credentials.principal.userEntityRef,
          ownershipEntityRefs: [credentials.principal.userEntityRef],
        }),
      },
      permissions: mockServices.permissions.mock({
        authorize: (async (requests: any[]) =>
          requests.map(() => ({ result: AuthorizeResult.ALLOW }))) as any,
        authorizeConditional: (async (requests: any[]) =>
          requests.map(() => ({ result: AuthorizeResult.ALLOW }))) as any,
      }),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger,
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
    });
    const app = express().use(router).use(mockErrorHandler());
    return { app, knex, store, logger };
  }

  async function seed(app: express.Express) {
    await request(app)
      .post('/models')
      .send({ name: 'llama', type: 'llm', owner: ALICE })
      .expect(201);
    await request(app)
      .post('/models/default/llama/versions')
      .send({ label: 'v1' })
      .expect(201);
    await request(app)
      .put(`${FILES}/model.bin`)
      .set('Content-Type', 'application/octet-stream')
      .send(content)
      .expect(201);
  }

  it('lists the audit trail newest first', async () => {
    const { app } = await setup();
    await seed(app);
    const res = await request(app).get('/activity').expect(200);
    expect(res.body.items.map((i: any) => i.eventId)).toEqual([
      'artifact-upload',
      'version-create',
      'model-create',
    ]);
    expect(res.body.items[1]).toEqual({
      id: expect.any(Number),
      eventId: 'version-create',
      actor: ALICE,
      modelRef: 'model:default/llama',
      versionLabel: 'v1',
      status: 'succeeded',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(res.body.items[2]).not.toHaveProperty('versionLabel');
    const ids = res.body.items.map((i: any) => i.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);

    const one = await request(app).get('/activity?limit=1').expect(200);
    expect(one.body.items).toHaveLength(1);
    expect(one.body.items[0].eventId).toBe('artifact-upload');
  });

  it('validates the limit and rejects anonymous calls', async () => {
    const { app } = await setup();
    for (const limit of ['0', '101', 'ten', '1.5']) {
      const res = await request(app).get(`/activity?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^Invalid query: limit: /);
    }
    await request(app).get('/activity?limit=100').expect(200);
    await request(app)
      .get('/activity')
      .set('Authorization', mockCredentials.none.header())
      .expect(401);
    await request(app)
      .get('/stats/history')
      .set('Authorization', mockCredentials.none.header())
      .expect(401);
  });

  it('answers the storage and downloads history per day', async () => {
    const { app, knex } = await setup();
    const empty = await request(app).get('/stats/history').expect(200);
    expect(empty.body.items).toHaveLength(30);
    expect(empty.body.items[0]).toEqual({
      date: today(-29),
      storageBytes: 0,
      downloads: 0,
      downloadBytes: 0,
    });
    expect(empty.body.items[29].date).toBe(today());

    const at = (days: number) => new Date(Date.now() + days * 86_400_000);
    await knex('blobs').insert([
      {
        sha256: 'a'.repeat(64),
        size: 100,
        ref_count: 1,
        location: 'a',
        created_at: at(-40),
        last_referenced_at: at(-40),
      },
      {
        sha256: 'b'.repeat(64),
        size: 20,
        ref_count: 1,
        location: 'b',
        created_at: at(-2),
        last_referenced_at: at(-2),
      },
    ]);
    await knex('download_counts').insert({
      day: today(-1),
      downloads: 3,
      bytes: 60,
    });

    const res = await request(app).get('/stats/history?days=3').expect(200);
    expect(res.body.items).toEqual([
      { date: today(-2), storageBytes: 120, downloads: 0, downloadBytes: 0 },
      { date: today(-1), storageBytes: 120, downloads: 3, downloadBytes: 60 },
      { date: today(), storageBytes: 120, downloads: 0, downloadBytes: 0 },
    ]);
    const earlier = await request(app).get('/stats/history?days=4').expect(200);
    expect(earlier.body.items[0]).toMatchObject({
      date: today(-3),
      storageBytes: 100,
    });

    const year = await request(app).get('/stats/history?days=365').expect(200);
    expect(year.body.items).toHaveLength(365);
    for (const days of ['0', '366', 'x']) {
      const bad = await request(app).get(`/stats/history?days=${days}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^Invalid query: days: /);
    }
  });

  it('counts full GET downloads only', async () => {
    const { app } = await setup();
    await seed(app);
    const url = `${FILES}/model.bin`;
    await request(app).get(url).expect(200);
    await request(app).get(url).expect(200);
    await request(app).head(url).expect(200);
    await request(app).get(url).set('If-None-Match', `"x", *`).expect(304);
    await request(app).get(url).set('Range', 'bytes=0-4').expect(206);

    // downloads are recorded in the background
    let res = await request(app).get('/stats/history?days=1').expect(200);
    for (let i = 0; i < 100 && res.body.items[0].downloads < 2; i++) {
      await new Promise(r => setTimeout(r, 20));
      res = await request(app).get('/stats/history?days=1').expect(200);
    }
    expect(res.body.items).toEqual([
      { date: today(), storageBytes: 20, downloads: 2, downloadBytes: 40 },
    ]);
  });

  it('never fails a download when it cannot be recorded', async () => {
    const { app, store, logger } = await setup();
    await seed(app);
    jest
      .spyOn(store, 'recordDownload')
      .mockRejectedValue(new Error('database is down'));
    const res = await request(app)
      .get(`${FILES}/model.bin`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(Buffer.compare(res.body, content)).toBe(0);
    // the download is recorded in the background
    for (
      let i = 0;
      i < 100 && !(logger.warn as jest.Mock).mock.calls.length;
      i++
    ) {
      await new Promise(r => setTimeout(r, 20));
    }
    expect(logger.warn).toHaveBeenCalledWith(
      'Could not record a download for the history: Error: database is down',
    );
  });
});
