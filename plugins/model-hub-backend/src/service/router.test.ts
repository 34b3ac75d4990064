import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import Knex from 'knex';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { sha256Of } from '../store/__testUtils__/artifactStoreSuite';
import { createRouter } from '../tests/__testUtils__/router';

jest.setTimeout(30_000);

const mockDir = createMockDirectory();

const ALICE = 'user:default/alice';
const CAROL = 'user:default/carol';
const groups: Record<string, string[]> = {
  [ALICE]: ['group:default/ml-engineers'],
};

const catalogModel = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'from-catalog', namespace: 'default', tags: ['nlp'] },
  spec: {
    type: 'llm',
    lifecycle: 'production',
    owner: 'ml-engineers',
    source: { huggingface: { repo: 'org/from-catalog' } },
  },
};
const catalogComponent = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'taken', namespace: 'default' },
  spec: {},
};

type Denial = (permission: string, resourceRef?: string) => boolean;

async function setup() {
  const knex = Knex({
    client: 'better-sqlite3',
    connection: ':memory:',
    useNullAsDefault: true,
  });
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts = await LocalArtifactStore.create({
    path: join(mockDir.path, String(Math.random())),
  });
  let deny: Denial = () => false;
  const authorize = jest.fn(async (requests: any[]) =>
    requests.map(r => ({
      result: deny(r.permission.name, r.resourceRef)
        ? AuthorizeResult.DENY
        : AuthorizeResult.ALLOW,
    })),
  );
  const events: { eventId: string; outcome: string }[] = [];
  const auditor = mockServices.auditor.mock({
    createEvent: jest.fn(async ({ eventId }) => ({
      success: async () => {
        events.push({ eventId, outcome: 'success' });
      },
      fail: async () => {
        events.push({ eventId, outcome: 'fail' });
      },
    })),
  });
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
        ownershipEntityRefs: [
          credentials.principal.userEntityRef,
          ...(groups[credentials.principal.userEntityRef] ?? []),
        ],
      }),
    },
    permissions: mockServices.permissions.mock({
      authorize: authorize as any,
      // a policy without conditions: the same answers without a resource
      authorizeConditional: authorize as any,
    }),
    auditor,
    catalog: catalogServiceMock({
      entities: [catalogModel, catalogComponent],
    }),
    logger: mockServices.logger.mock(),
    maxUploadBytes: 1000,
    gcGracePeriodMs: 0,
  });
  const app = express().use(router).use(mockErrorHandler());
  return {
    app,
    store,
    knex,
    artifacts,
    authorize,
    events,
    setDeny: (d: Denial) => {
      deny = d;
    },
  };
}

const newModel = {
  name: 'llama',
  title: 'Llama',
  type: 'llm',
  owner: 'group:default/ml-engineers',
  tags: ['nlp', 'chat'],
  source: { huggingface: { repo: 'meta/llama', revision: 'main' } },
};

async function seed(app: express.Express) {
  await request(app).post('/models').send(newModel).expect(201);
  await request(app)
    .post('/models/default/llama/versions')
    .send({ label: 'v1' })
    .expect(201);
}

const FILES = '/models/default/llama/versions/v1/files';

describe('createRouter', () => {
  describe('authentication', () => {
    it('rejects anonymous calls with 401', async () => {
      const { app } = await setup();
      await request(app)
        .get('/models')
        .set('Authorization', mockCredentials.none.header())
        .expect(401);
    });
  });

  describe('GET /models', () => {
    it('pages, filters and sorts', async () => {
      const { app } = await setup();
      await seed(app);
      await request(app)
        .post('/models')
        .send({ name: 'bert', type: 'embedding', owner: 'user:default/alice' })
        .expect(201);
      const all = await request(app).get('/models?limit=1').expect(200);
      expect(all.body).toMatchObject({ totalCount: 2, offset: 0, limit: 1 });
      expect(all.body.items.map((m: any) => m.name)).toEqual(['bert']);
      const filtered = await request(app)
        .get(
          '/models?type=llm,vision&state=draft&tag=nlp&source=huggingface&owner=ml-engineers&q=LLA&sort=updatedAt&order=desc',
        )
        .expect(200);
      expect(filtered.body.items).toEqual([
        expect.objectContaining({
          entityRef: 'model:default/llama',
          versionCount: 1,
          latestVersion: expect.objectContaining({
            label: 'v1',
            state: 'draft',
          }),
        }),
      ]);
    });

    it('answers 400 with a message on bad input', async () => {
      const { app } = await setup();
      const res = await request(app)
        .get('/models?limit=1000&sort=size')
        .expect(400);
      expect(res.body.error.name).toBe('InputError');
      expect(res.body.error.message).toMatch(/limit/);
      expect(res.body.error.message).toMatch(/sort/);
      await request(app).get('/models?unknown=1').expect(400);
      await request(app).get('/models?state=bogus').expect(400);
    });
  });

  describe('POST /models', () => {
    it('creates a model and audits it', async () => {
      const { app, events, authorize, knex } = await setup();
      const res = await request(app).post('/models').send(newModel).expect(201);
      expect(res.body).toMatchObject({
        entityRef: 'model:default/llama',
        namespace: 'default',
        lifecycle: 'experimental',
        sourceType: 'huggingface',
        createdBy: ALICE,
      });
      expect(authorize.mock.calls[0][0]).toEqual([
        {
          permission: expect.objectContaining({
            name: 'model-hub.model.create',
          }),
        },
      ]);
      expect(events).toEqual([{ eventId: 'model-create', outcome: 'success' }]);
      expect(await knex('audit_events').select('event_id', 'actor')).toEqual([
        { event_id: 'model-create', actor: ALICE },
      ]);
    });

    it('answers 400 with a message on bad input', async () => {
      const { app } = await setup();
      const res = await request(app)
        .post('/models')
        .send({ name: 'bad name!', type: 'robot', owner: '', extra: 1 })
        .expect(400);
      expect(res.body.error.message).toMatch(/name/);
      expect(res.body.error.message).toMatch(/type/);
      expect(res.body.error.message).toMatch(/owner/);
      await request(app)
        .post('/models')
        .send({ ...newModel, tags: ['Not OK'] })
        .expect(400);
    });

    it('answers 403 without the permission or for another group', async () => {
      const { app, setDeny, events } = await setup();
      setDeny(p => p === 'model-hub.admin');
      await request(app)
        .post('/models')
        .set('Authorization', mockCredentials.user.header(CAROL))
        .send(newModel)
        .expect(403);
      setDeny(p => p === 'model-hub.model.create');
      await request(app).post('/models').send(newModel).expect(403);
      expect(events.map(e => e.outcome)).toEqual(['fail', 'fail']);
    });

    it('lets admins create models for any group', async () => {
      const { app } = await setup();
      await request(app)
        .post('/models')
        .set('Authorization', mockCredentials.user.header(CAROL))
        .send({ ...newModel, owner: 'group:default/other' })
        .expect(201);
    });

    it('answers 409 for an existing model or catalog entity', async () => {
      const { app } = await setup();
      await request(app).post('/models').send(newModel).expect(201);
      await request(app).post('/models').send(newModel).expect(409);
      await request(app)
        .post('/models')
        .send({ ...newModel, name: 'from-catalog' })
        .expect(409);
    });
  });

  describe('models and versions', () => {
    it('gets a model with its versions', async () => {
      const { app } = await setup();
      await seed(app);
      const res = await request(app).get('/models/default/llama').expect(200);
      expect(res.body).toMatchObject({
        name: 'llama',
        versions: [
          expect.objectContaining({ label: 'v1', state: 'draft', revision: 0 }),
        ],
      });
      const versions = await request(app)
        .get('/models/default/llama/versions')
        .expect(200);
      expect(versions.body.items).toHaveLength(1);
      const version = await request(app)
        .get('/models/default/llama/versions/v1')
        .expect(200);
      expect(version.body).toMatchObject({
        label: 'v1',
        sourceType: 'huggingface',
        source: { huggingface: { repo: 'meta/llama', revision: 'main' } },
      });
    });

    it('answers 404 and 400', async () => {
      const { app } = await setup();
      await seed(app);
      const res = await request(app).get('/models/default/nope').expect(404);
      expect(res.body.error.message).toBe('Model model:default/nope not found');
      await request(app).get('/models/default/nope/versions').expect(404);
      await request(app).get('/models/default/llama/versions/v9').expect(404);
      await request(app).get('/models/default/bad%20name').expect(400);
    });

    it('creates versions, also for models defined in the catalog', async () => {
      const { app, authorize } = await setup();
      const res = await request(app)
        .post('/models/default/from-catalog/versions')
        .send({
          label: '1.0.0',
          resolvedCommit: 'a'.repeat(40),
          notes: 'first',
        })
        .expect(201);
      expect(res.body).toMatchObject({
        label: '1.0.0',
        state: 'draft',
        sourceType: 'huggingface',
        resolvedCommit: 'a'.repeat(40),
        createdBy: ALICE,
      });
      // the policy is asked once (authorizeConditional, the same mock here),
      // with the caller's credentials
      expect(authorize).toHaveBeenCalledWith(
        [
          {
            permission: expect.objectContaining({
              name: 'model-hub.version.create',
            }),
          },
        ],
        { credentials: expect.anything() },
      );
      const model = await request(app)
        .get('/models/default/from-catalog')
        .expect(200);
      expect(model.body).toMatchObject({
        owner: 'group:default/ml-engineers',
        tags: ['nlp'],
        createdBy: 'catalog',
      });
    });

    it('answers 400, 403, 404 and 409 on version creation', async () => {
      const { app, setDeny } = await setup();
      await seed(app);
      const bad = await request(app)
        .post('/models/default/llama/versions')
        .send({ label: '-x', manifestDigest: 'md5:1' })
        .expect(400);
      expect(bad.body.error.message).toMatch(/label/);
      expect(bad.body.error.message).toMatch(/manifestDigest/);
      await request(app)
        .post('/models/default/llama/versions')
        .send({ label: 'v1' })
        .expect(409);
      await request(app)
        .post('/models/default/taken/versions')
        .send({ label: 'v1' })
        .expect(404);
      setDeny(p => p === 'model-hub.version.create');
      await request(app)
        .post('/models/default/llama/versions')
        .send({ label: 'v2' })
        .expect(403);
    });
  });

  describe('files', () => {
    const content = Buffer.from('0123456789abcdefghij');
    const digest = sha256Of(content);

    function upload(app: express.Express, path = 'weights/model.safetensors') {
      return request(app)
        .put(`${FILES}/${path}`)
        .set('Content-Type', 'application/octet-stream')
        .send(content);
    }

    it('uploads files and lists them as a tree', async () => {
      const { app, events } = await setup();
      await seed(app);
      const res = await upload(app).expect(201);
      expect(res.body).toMatchObject({
        path: 'weights/model.safetensors',
        size: 20,
        sha256: digest,
        kind: 'weights',
      });
      // same content again: 200
      await upload(app).expect(200);
      await request(app)
        .put(`${FILES}/config.json?sha256=${sha256Of(Buffer.from('{}'))}`)
        .set('Content-Type', 'application/json')
        .send('{}')
        .expect(201);
      const list = await request(app).get(FILES).expect(200);
      expect(list.body.files.map((f: any) => [f.path, f.kind])).toEqual([
        ['config.json', 'config'],
        ['weights/model.safetensors', 'weights'],
      ]);
      expect(list.body.tree).toMatchObject({
        type: 'directory',
        size: 22,
        children: [
          { type: 'directory', name: 'weights', path: 'weights', size: 20 },
          { type: 'file', name: 'config.json', path: 'config.json' },
        ],
      });
      const version = await request(app)
        .get('/models/default/llama/versions/v1')
        .expect(200);
      expect(version.body).toMatchObject({
        fileCount: 2,
        totalSize: 22,
        revision: 2,
      });
      expect(events.filter(e => e.eventId === 'artifact-upload')).toHaveLength(
        3,
      );
    });

    it('answers 400, 403, 404 and 409 on upload', async () => {
      const { app, setDeny, knex } = await setup();
      await seed(app);
      const bad = await request(app)
        .put(`${FILES}/a/../b.bin`.replace('..', '%2E%2E'))
        .send(content)
        .expect(400);
      expect(bad.body.error.message).toMatch(/Invalid file path/);
      const mismatch = await request(app)
        .put(`${FILES}/a.bin?sha256=${'0'.repeat(64)}`)
        .set('Content-Type', 'application/octet-stream')
        .send(content)
        .expect(400);
      expect(mismatch.body.error.message).toMatch(/Checksum mismatch/);
      await request(app)
        .put(`${FILES}/a.bin?kind=model`)
        .send(content)
        .expect(400);
      const tooLarge = await request(app)
        .put(`${FILES}/big.bin`)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.alloc(1001))
        .expect(400);
      expect(tooLarge.body.error.message).toBe(
        'The file is larger than the limit of 1000 bytes',
      );
      await request(app)
        .put('/models/default/llama/versions/v9/files/a.bin')
        .send(content)
        .expect(404);

      await upload(app).expect(201);
      await request(app)
        .put(`${FILES}/weights/model.safetensors`)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('other'))
        .expect(409);

      setDeny(p => p === 'model-hub.artifact.upload');
      await upload(app, 'x.bin').expect(403);
      setDeny(() => false);

      await knex('model_versions').update({ state: 'approved' });
      const frozen = await upload(app, 'y.bin').expect(409);
      expect(frozen.body.error.message).toMatch(/approved/);
    });

    it('downloads with ETag, Range, If-None-Match and HEAD', async () => {
      const { app, setDeny } = await setup();
      await seed(app);
      await upload(app).expect(201);
      const url = `${FILES}/weights/model.safetensors`;

      const full = await request(app)
        .get(url)
        .buffer(true)
        .parse(binary)
        .expect(200);
      expect(full.headers.etag).toBe(`"${digest}"`);
      expect(full.headers['accept-ranges']).toBe('bytes');
      expect(full.headers['content-length']).toBe('20');
      expect(full.headers['content-disposition']).toContain(
        'model.safetensors',
      );
      expect(Buffer.compare(full.body, content)).toBe(0);

      const part = await request(app)
        .get(url)
        .set('Range', 'bytes=5-9')
        .buffer(true)
        .parse(binary)
        .expect(206);
      expect(part.headers['content-range']).toBe('bytes 5-9/20');
      expect(part.body.toString()).toBe('56789');
      const suffix = await request(app)
        .get(url)
        .set('Range', 'bytes=-3')
        .buffer(true)
        .parse(binary)
        .expect(206);
      expect(suffix.body.toString()).toBe('hij');
      // If-Range with another validator: the whole content
      await request(app)
        .get(url)
        .set('Range', 'bytes=5-9')
        .set('If-Range', '"other"')
        .expect(200);
      const unsatisfiable = await request(app)
        .get(url)
        .set('Range', 'bytes=50-')
        .expect(416);
      expect(unsatisfiable.headers['content-range']).toBe('bytes */20');

      await request(app)
        .get(url)
        .set('If-None-Match', `"${digest}"`)
        .expect(304);
      const head = await request(app).head(url).expect(200);
      expect(head.headers['content-length']).toBe('20');
      expect(head.headers.etag).toBe(`"${digest}"`);

      await request(app).get(`${FILES}/nope.bin`).expect(404);
      await request(app).head(`${FILES}/nope.bin`).expect(404);
      setDeny(p => p === 'model-hub.artifact.download');
      await request(app).get(url).expect(403);
    });

    it('answers 404, not a broken 200, when the bytes are missing', async () => {
      const { app, artifacts } = await setup();
      await seed(app);
      await upload(app).expect(201);
      await artifacts.delete(digest);
      const res = await request(app)
        .get(`${FILES}/weights/model.safetensors`)
        .expect(404);
      expect(res.body.error.message).toBe(`Blob ${digest} not found`);
    });

    it('deletes files', async () => {
      const { app, setDeny } = await setup();
      await seed(app);
      await upload(app).expect(201);
      // everything but reading the model
      setDeny(p => !p.endsWith('.read'));
      await request(app)
        .delete(`${FILES}/weights/model.safetensors`)
        .expect(403);
      setDeny(() => false);
      await request(app)
        .delete(`${FILES}/weights/model.safetensors`)
        .expect(204);
      await request(app)
        .delete(`${FILES}/weights/model.safetensors`)
        .expect(404);
    });
  });

  describe('sync and jobs', () => {
    it('queues a sync and manages the job', async () => {
      const { app, setDeny } = await setup();
      await seed(app);
      const job = await request(app)
        .post('/models/default/llama/sync')
        .send({ revision: 'v2.0' })
        .expect(202);
      expect(job.body).toMatchObject({
        type: 'huggingface-sync',
        state: 'queued',
        modelRef: 'model:default/llama',
        params: { repo: 'meta/llama', revision: 'v2.0' },
      });
      await request(app)
        .post('/models/default/llama/sync')
        .send({})
        .expect(409);
      await request(app).post('/models/default/nope/sync').send({}).expect(404);
      await request(app)
        .post('/models/default/llama/sync')
        .send({ rev: 1 })
        .expect(400);

      const list = await request(app)
        .get('/jobs?state=queued&model=model:default/llama')
        .expect(200);
      expect(list.body).toMatchObject({
        totalCount: 1,
        items: [{ id: job.body.id }],
      });
      expect(
        (await request(app).get('/jobs?model=model:default/none').expect(200))
          .body.totalCount,
      ).toBe(0);
      await request(app).get('/jobs?state=done').expect(400);
      await request(app).get(`/jobs/${job.body.id}`).expect(200);
      await request(app).get('/jobs/not-a-uuid').expect(400);
      await request(app)
        .get('/jobs/00000000-0000-4000-8000-000000000000')
        .expect(404);

      const retry = await request(app)
        .post(`/jobs/${job.body.id}/retry`)
        .expect(409);
      expect(retry.body.error.message).toBe(
        'Cannot retry a job that is queued',
      );
      // everything but reading the model
      setDeny(p => !p.endsWith('.read'));
      await request(app).post(`/jobs/${job.body.id}/cancel`).expect(403);
      setDeny(() => false);
      const cancelled = await request(app)
        .post(`/jobs/${job.body.id}/cancel`)
        .expect(200);
      expect(cancelled.body.state).toBe('cancelled');
      await request(app).post(`/jobs/${job.body.id}/cancel`).expect(409);
      await request(app).post(`/jobs/${job.body.id}/retry`).expect(200);
      await request(app)
        .post('/jobs/00000000-0000-4000-8000-000000000000/retry')
        .expect(404);

      const logs = await request(app)
        .get(`/jobs/${job.body.id}/logs`)
        .expect(200);
      expect(logs.body.items.map((l: any) => l.message)).toEqual([
        `Cancelled by ${ALICE}`,
        `Retried by ${ALICE}`,
      ]);
      await request(app).get(`/jobs/${job.body.id}/logs?limit=0`).expect(400);
      await request(app)
        .get('/jobs/00000000-0000-4000-8000-000000000000/logs')
        .expect(404);
    });

    it('answers 409 for a model without a Hugging Face source, 403 without permission', async () => {
      const { app, setDeny } = await setup();
      await request(app)
        .post('/models')
        .send({ name: 'uploaded', type: 'llm', owner: 'ml-engineers' })
        .expect(201);
      await request(app)
        .post('/models/default/uploaded/sync')
        .send({})
        .expect(409);
      setDeny(p => p === 'model-hub.sync.trigger');
      await request(app)
        .post('/models/default/uploaded/sync')
        .send({})
        .expect(403);
    });
  });

  describe('stats and admin', () => {
    it('reports stats', async () => {
      const { app } = await setup();
      await seed(app);
      await request(app)
        .put(`${FILES}/a.bin`)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('abc'))
        .expect(201);
      const res = await request(app).get('/stats').expect(200);
      expect(res.body).toMatchObject({
        models: 1,
        versions: { total: 1, byState: { draft: 1, approved: 0 } },
        storage: { blobs: 1, bytes: 3, unreferencedBlobs: 0 },
        jobs: { active: 0, failed: 0 },
      });
    });

    it('collects garbage for admins only', async () => {
      const { app, setDeny } = await setup();
      await seed(app);
      await request(app)
        .put(`${FILES}/a.bin`)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('abc'))
        .expect(201);
      await request(app).delete(`${FILES}/a.bin`).expect(204);
      setDeny(p => p === 'model-hub.admin');
      await request(app).post('/admin/gc').expect(403);
      setDeny(() => false);
      await new Promise(r => setTimeout(r, 5));
      const res = await request(app).post('/admin/gc').expect(200);
      expect(res.body).toEqual({ unreferenced: 1, orphans: 0, temporary: 0 });
    });
  });

  it('documents every route in the OpenAPI document', async () => {
    const { app } = await setup();
    const doc = parseYaml(
      readFileSync(join(__dirname, '..', 'schema', 'openapi.yaml'), 'utf8'),
    );
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object)
        .filter(k => k !== 'parameters')
        .map(method => `${method.toUpperCase()} ${path}`),
    );
    const routes: string[] = [];
    const stack = (app as any)._router.stack.find(
      (l: any) => l.name === 'router',
    ).handle.stack;
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          routes.push(
            `${method.toUpperCase()} ${layer.route.path
              .replace(/:(\w+)/g, '{$1}')
              .replace('*', '{path}')}`,
          );
        }
      }
    }
    // every route of the core router is documented ...
    expect(routes.filter(r => !documented.includes(r))).toEqual([]);
    // ... and every documented route is served: here, or by one of the
    // router extensions (uploads, Hugging Face sync, scan, mirror, tokens,
    // the audit search and the namespaces, the store check),
    // whose own tests check their routes against this document
    const extensionRoute =
      /^\w+ \/(uploads|huggingface|scan|hf|tokens|entities|audit|namespaces|admin\/store-check)\b|\/packages$|^POST \/models\/.*\/files$/;
    expect(
      documented.filter(r => !routes.includes(r) && !extensionRoute.test(r)),
    ).toEqual([]);
  });
});

function binary(res: any, cb: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}
