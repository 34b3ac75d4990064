import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import PromiseRouter from 'express-promise-router';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { RouteContext, RouterOptions } from '../service/context';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { ArtifactStore } from '../store/ArtifactStore';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { S3ArtifactStore } from '../store/S3ArtifactStore';
import { createBlobRows } from './blobRows';
import { checkStore } from './checkStore';
import { cleanupStore, createStoreCheckFeature } from './index';

// The store check against a real local store and a real database (SQLite
// and PostgreSQL): a blob whose file was overwritten (corrupt), one whose
// file was deleted (missing), one no file points at and one whose last file
// was removed (both unreferenced).

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

/** Damage done to a blob behind the store's back. */
type Damage = {
  overwrite(sha256: string, text: string): Promise<void>;
  remove(sha256: string): Promise<void>;
};

/**
 * A model version with files (one to be corrupted, one to go missing, one
 * removed from the version) and a stray blob, then the damage.
 */
async function seed(id: string, artifacts: ArtifactStore, damage: Damage) {
  const knex = await databases.init(id as any);
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const model = await store.createModel({
    namespace: 'default',
    name: 'checked',
    type: 'llm',
    lifecycle: 'experimental',
    owner: 'group:default/ml-engineers',
    sourceType: 'upload',
    source: 'upload',
    tags: [],
    createdBy: 'user:default/alice',
  });
  const version = await store.createVersion({
    modelId: model.id,
    label: 'v1',
    sourceType: 'upload',
    createdBy: 'user:default/alice',
  });
  const put = (text: string) =>
    artifacts.put(Readable.from([Buffer.from(text)]));
  const addFile = async (path: string, text: string) => {
    const blob = await put(text);
    await store.addFile({
      versionId: version.id,
      path,
      kind: 'other',
      blob,
      createdBy: 'user:default/alice',
    });
    return blob.sha256;
  };
  const good = await addFile('good.txt', 'all is well');
  const corrupt = await addFile('corrupt.txt', 'will be overwritten');
  const missing = await addFile('missing.txt', 'will be deleted');
  const removed = await addFile('removed.txt', 'its file is removed');
  await store.removeFile({ versionId: version.id, path: 'removed.txt' });
  const stray = (await put('no file points at me')).sha256;
  await damage.overwrite(corrupt, 'WILL BE OVERWRITTEN');
  await damage.remove(missing);
  return {
    knex,
    store,
    artifacts,
    rows: createBlobRows(knex),
    blobs: { good, corrupt, missing, removed, stray },
  };
}

describe.each(databases.eachSupportedId())('store check (%s)', id => {
  async function setup() {
    const root = join(mockDir.path, `${id}-${Math.random()}`);
    const artifacts = await LocalArtifactStore.create({ path: root });
    const blobFile = (sha256: string) =>
      join(root, 'sha256', sha256.slice(0, 2), sha256);
    return seed(id, artifacts, {
      overwrite: async (sha256, text) => {
        await fs.rm(blobFile(sha256), { force: true });
        await fs.writeFile(blobFile(sha256), text);
      },
      remove: sha256 => fs.rm(blobFile(sha256)),
    });
  }

  it('finds the corrupt, missing and unreferenced blobs', async () => {
    const { artifacts, rows, blobs } = await setup();
    const report = await checkStore({ artifacts, rows, limit: 100 });
    expect(report).toMatchObject({
      checked: 4,
      referenced: 3,
      missing: {
        count: 1,
        blobs: [{ sha256: blobs.missing, size: 'will be deleted'.length }],
      },
      corrupt: {
        count: 1,
        blobs: [
          {
            sha256: blobs.corrupt,
            size: 19,
            reason: 'content',
            actualSha256: expect.not.stringMatching(blobs.corrupt),
            actualSize: 19,
          },
        ],
      },
      unreferenced: { count: 2 },
      limit: 100,
    });
    expect(report.unreferenced.blobs.map(b => b.sha256).sort()).toEqual(
      [blobs.removed, blobs.stray].sort(),
    );
    expect(report.bytes).toBe(
      [
        'all is well',
        'WILL BE OVERWRITTEN',
        'its file is removed',
        'no file points at me',
      ]
        .map(s => s.length)
        .reduce((a, b) => a + b),
    );
    // lists are cut at the limit, counts are not
    const cut = await checkStore({ artifacts, rows, limit: 1 });
    expect(cut.unreferenced).toEqual({
      count: 2,
      blobs: [expect.objectContaining({ sha256: expect.any(String) })],
    });
  });

  it('reports a size that is not the recorded one', async () => {
    const { artifacts, rows, blobs } = await setup();
    // the store names blobs by their digest, so a row with another size
    // comes from the database side: a row that says one byte more
    const report = await checkStore({
      artifacts,
      rows: {
        find: async sha256s => {
          const found = await rows.find(sha256s);
          const good = found.get(blobs.good);
          if (good) {
            found.set(blobs.good, { ...good, size: good.size + 1 });
          }
          return found;
        },
        listReferenced: o => rows.listReferenced(o),
      },
      limit: 10,
    });
    expect(report.corrupt.blobs).toEqual(
      expect.arrayContaining([
        {
          sha256: blobs.good,
          reason: 'size',
          size: 12,
          actualSize: 11,
        },
      ]),
    );
  });

  it('answers POST /admin/store-check to admins only', async () => {
    const { store, artifacts, knex, blobs } = await setup();
    let admin = false;
    const events: string[] = [];
    const feature = createStoreCheckFeature({
      db: knex,
      artifacts,
      logger: mockServices.logger.mock(),
      uploadExpirationMs: 3_600_000,
    });
    const ctx = new RouteContext({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({
        defaultCredentials: mockCredentials.user('user:default/dana'),
      }),
      userInfo: mockServices.userInfo(),
      permissions: mockServices.permissions.mock({
        authorize: async (requests: any[]) =>
          requests.map(r => ({
            result:
              r.permission.name === 'model-hub.admin' && admin
                ? AuthorizeResult.ALLOW
                : AuthorizeResult.DENY,
          })),
      } as any),
      auditor: mockServices.auditor.mock({
        createEvent: async ({ eventId }: { eventId: string }) => ({
          success: async () => {
            events.push(`${eventId} success`);
          },
          fail: async () => {
            events.push(`${eventId} fail`);
          },
        }),
      } as any),
      catalog: {} as any,
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
    } as unknown as RouterOptions);
    const router = PromiseRouter();
    feature.routes.forEach(add => add(router, ctx));
    const app = express().use(router).use(mockErrorHandler());

    await request(app).post('/admin/store-check').expect(403);
    admin = true;
    await request(app)
      .post('/admin/store-check')
      .send({ limit: 0 })
      .expect(400);
    const res = await request(app)
      .post('/admin/store-check')
      .send({ limit: 5 })
      .expect(200);
    expect(res.body).toMatchObject({
      checked: 4,
      missing: { count: 1, blobs: [{ sha256: blobs.missing }] },
      corrupt: { count: 1, blobs: [{ sha256: blobs.corrupt }] },
      unreferenced: { count: 2 },
      limit: 5,
    });
    // without a body: the default limit
    const plain = await request(app).post('/admin/store-check').expect(200);
    expect(plain.body.limit).toBe(100);
    expect(events).toEqual([
      'store-check fail',
      'store-check success',
      'store-check success',
    ]);
    // the clean-up task of the feature
    expect(feature.tasks?.map(t => t.id)).toEqual(['model-hub-store-cleanup']);

    // the CLI (scripts/model-hub-store-check.mjs) against the same route
    const server = express()
      .use('/api/model-hub', router)
      .use(mockErrorHandler())
      .listen(0, '127.0.0.1');
    await new Promise(r => server.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cli = join(
        __dirname,
        '..',
        '..',
        '..',
        '..',
        'scripts',
        'model-hub-store-check.mjs',
      );
      const run = (args: string[]) =>
        new Promise<{ code: number; out: string }>(done => {
          execFile(
            process.execPath,
            [cli, '--url', url, ...args],
            {
              env: {
                ...process.env,
                MODEL_HUB_TOKEN: mockCredentials.user
                  .header('user:default/dana')
                  .slice('Bearer '.length),
              },
            },
            (error, stdout, stderr) =>
              done({
                code: error ? Number(error.code ?? 1) : 0,
                out: `${stdout}${stderr}`,
              }),
          );
        });
      const text = await run(['--limit', '1']);
      expect(text.code).toBe(3);
      expect(text.out).toContain('Checked 4 blobs');
      expect(text.out).toContain(`Missing: 1\n  ${blobs.missing} (15 bytes)`);
      expect(text.out).toContain(
        `Corrupt: 1\n  ${blobs.corrupt} (content hashes to `,
      );
      expect(text.out).toMatch(
        /Unreferenced: 2\n {2}[0-9a-f]{64} .*\n {2}… and 1 more/,
      );
      const json = await run(['--json']);
      expect(json.code).toBe(3);
      expect(JSON.parse(json.out)).toMatchObject({ checked: 4, limit: 100 });
      admin = false;
      const denied = await run([]);
      expect(denied.code).toBe(1);
      expect(denied.out).toContain('403');
      expect((await run(['--limit', 'x'])).code).toBe(2);
    } finally {
      server.close();
    }
  });
});

describe('store check of an S3 store (s3rver)', () => {
  let server: S3rver;
  let endpoint: string;

  beforeAll(async () => {
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: join(mockDir.path, 's3rver'),
      configureBuckets: [],
    });
    const address = (await server.run()) as AddressInfo;
    endpoint = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('finds the corrupt, missing and unreferenced blobs', async () => {
    const client = {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
    const s3 = new S3Client(client);
    await s3.send(new CreateBucketCommand({ Bucket: 'checked' }));
    const artifacts = await S3ArtifactStore.create({
      bucket: 'checked',
      prefix: 'hub/',
      spoolDir: join(mockDir.path, 's3-spool'),
      client,
    });
    const key = (sha256: string) =>
      `hub/sha256/${sha256.slice(0, 2)}/${sha256}`;
    const { rows, blobs } = await seed('SQLITE_3', artifacts, {
      overwrite: async (sha256, text) => {
        await s3.send(
          new PutObjectCommand({
            Bucket: 'checked',
            Key: key(sha256),
            Body: text,
            Metadata: { sha256 },
          }),
        );
      },
      remove: async sha256 => {
        await s3.send(
          new DeleteObjectCommand({ Bucket: 'checked', Key: key(sha256) }),
        );
      },
    });
    const report = await checkStore({ artifacts, rows, limit: 100 });
    expect(report).toMatchObject({
      checked: 4,
      referenced: 3,
      missing: { count: 1, blobs: [{ sha256: blobs.missing }] },
      corrupt: {
        count: 1,
        blobs: [{ sha256: blobs.corrupt, reason: 'content' }],
      },
      unreferenced: { count: 2 },
    });
  });
});

describe('cleanupStore', () => {
  it('removes leftovers older than the upload expiration, never a live write', async () => {
    const root = join(mockDir.path, 'cleanup');
    const artifacts = await LocalArtifactStore.create({ path: root });
    const tmp = join(root, 'tmp');
    const crashed = join(tmp, 'crashed.partial');
    const live = join(tmp, 'another-process-writing.partial');
    await fs.writeFile(crashed, 'x');
    await fs.writeFile(live, 'y');
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    await fs.utimes(crashed, hoursAgo(25), hoursAgo(25));
    // last written a minute ago: a slow upload of another process
    await fs.utimes(live, hoursAgo(1 / 60), hoursAgo(1 / 60));
    const logger = mockServices.logger.mock();
    await expect(
      cleanupStore({ artifacts, logger, uploadExpirationMs: 24 * 3_600_000 }),
    ).resolves.toEqual({ removed: 1 });
    expect(await fs.readdir(tmp)).toEqual(['another-process-writing.partial']);
    expect(logger.info).toHaveBeenCalledWith(
      'Removed 1 leftovers of interrupted writes from the store',
    );
  });

  it('logs a failure instead of throwing it', async () => {
    const logger = mockServices.logger.mock();
    await expect(
      cleanupStore({
        artifacts: {
          cleanup: async () => {
            throw new Error('bucket away');
          },
        } as any,
        logger,
        uploadExpirationMs: 1,
      }),
    ).resolves.toEqual({ removed: 0 });
    expect(logger.error).toHaveBeenCalledWith(
      'Store clean-up failed',
      expect.objectContaining({ message: 'bucket away' }),
    );
  });
});
