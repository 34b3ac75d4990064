import { existsSync, promises as fs, readdirSync } from 'node:fs';
import { createServer, request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  createMockDirectory,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Knex } from 'knex';
import S3rver from 's3rver';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { makeContent, sha256Of } from './__testUtils__/artifactStoreSuite';
import { readMultipartStaleAfterMs } from './createArtifactStore';
import { S3ArtifactStore } from './S3ArtifactStore';
import { S3MultipartRegistry } from './S3MultipartRegistry';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const PART = 5 * 1024 * 1024;

/**
 * s3rver, in front of which AbortMultipartUpload is answered as S3 does
 * (s3rver answers it 405): the upload's folder of parts is removed, or
 * NoSuchUpload when there is none. Everything else is forwarded.
 */
async function abortingFront(endpoint: string, s3rverDir: string) {
  const target = new URL(endpoint);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://front');
    const uploadId = url.searchParams.get('uploadId');
    if (req.method === 'DELETE' && uploadId) {
      const bucket = decodeURIComponent(url.pathname).slice(1).split('/')[0];
      const dir = join(s3rverDir, bucket, '._S3rver_uploads', uploadId);
      req.resume();
      if (!existsSync(dir)) {
        res.statusCode = 404;
        res.setHeader('Content-Type', 'application/xml');
        res.end('<Error><Code>NoSuchUpload</Code></Error>');
        return;
      }
      fs.rm(dir, { recursive: true, force: true }).then(() => {
        res.statusCode = 204;
        res.end();
      });
      return;
    }
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      upstream => {
        res.writeHead(upstream.statusCode!, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise(r => server.close(r)),
  };
}

describe.each(databases.eachSupportedId())('S3MultipartRegistry (%s)', id => {
  let server: S3rver;
  let s3rverUrl: string;
  let front: Awaited<ReturnType<typeof abortingFront>>;
  const s3rverDir = join(mockDir.path, `s3rver-${id}`);
  let knex: Knex;
  let n = 0;

  beforeAll(async () => {
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: s3rverDir,
      configureBuckets: [],
    });
    const address = (await server.run()) as AddressInfo;
    s3rverUrl = `http://127.0.0.1:${address.port}`;
    front = await abortingFront(s3rverUrl, s3rverDir);
    knex = await databases.init(id);
    await knex.migrate.latest({
      directory: DatabaseModelHubStore.migrationsDirectory,
    });
  });

  afterAll(async () => {
    await front.close();
    await server.close();
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await knex('s3_multipart_uploads').delete();
  });

  function clientConfig(endpoint = front.url) {
    return {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
  }

  /** A bucket and a store on it with a registry (one "instance"). */
  async function setup(
    options: {
      staleAfterMs?: number;
      heartbeatMs?: number;
      endpoint?: string;
    } = {},
  ) {
    n += 1;
    const bucket = `bucket-${n}`;
    const s3 = new S3Client(clientConfig(options.endpoint));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const registry = new S3MultipartRegistry(knex, {
      staleAfterMs: options.staleAfterMs,
      heartbeatMs: options.heartbeatMs,
    });
    const store = await S3ArtifactStore.create({
      bucket,
      prefix: 'hub/',
      spoolDir: join(mockDir.path, `spool-${id}-${n}`),
      partSize: PART,
      multipartRegistry: registry,
      client: clientConfig(options.endpoint),
    });
    return { bucket, s3, registry, store };
  }

  /** The upload ids s3rver holds open in a bucket. */
  function openUploads(bucket: string): string[] {
    const dir = join(s3rverDir, bucket, '._S3rver_uploads');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  /** A multipart upload of one part through a tracked client, left open. */
  async function openUpload(
    registry: S3MultipartRegistry,
    s3: S3Client,
    bucket: string,
    key: string,
  ) {
    const tracked = registry.track(s3);
    const { UploadId } = await tracked.client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
    );
    const part = await tracked.client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: makeContent(PART),
      }),
    );
    return { tracked, uploadId: UploadId!, etag: part.ETag! };
  }

  it("aborts a dead writer's upload (stale heartbeat) and removes its row", async () => {
    const { bucket, s3, registry, store } = await setup();
    // the writer's clock is 10 minutes behind: its only heartbeat (the
    // registration) is stale, as that of an instance killed 10 minutes ago
    const dead = new S3MultipartRegistry(knex, {
      now: () => Date.now() - 600_000,
    });
    const key = `hub/sha256/ab/${'ab'.repeat(32)}`;
    const { tracked, uploadId } = await openUpload(dead, s3, bucket, key);
    tracked.close(); // the writer is gone: no more heartbeats
    expect(openUploads(bucket)).toEqual([uploadId]);
    expect(await registry.list()).toEqual([
      expect.objectContaining({ bucket, key, uploadId }),
    ]);

    const result = await store.cleanup({ olderThan: new Date() });

    expect(result.removed).toBe(1);
    expect(openUploads(bucket)).toEqual([]);
    expect(await registry.list()).toEqual([]);
    // a second clean-up finds nothing more
    expect(await store.cleanup({ olderThan: new Date() })).toEqual({
      removed: 0,
    });
  });

  it("leaves another instance's live upload alone, which then completes", async () => {
    const { bucket, s3, store } = await setup();
    const other = new S3MultipartRegistry(knex);
    const key = `hub/sha256/cd/${'cd'.repeat(32)}`;
    const { tracked, uploadId, etag } = await openUpload(
      other,
      s3,
      bucket,
      key,
    );

    expect(await store.cleanup({ olderThan: new Date() })).toEqual({
      removed: 0,
    });
    expect(await store.abortStaleMultipartUploads()).toBe(0);
    expect(openUploads(bucket)).toEqual([uploadId]);
    expect(await other.list()).toEqual([
      expect.objectContaining({ key, uploadId }),
    ]);

    await tracked.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
      }),
    );
    tracked.close();
    expect(await other.list()).toEqual([]);
    expect(openUploads(bucket)).toEqual([]);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key }),
    );
    expect(head.ContentLength).toBe(PART);
  });

  it('registers a write while its parts are sent, and a completed write leaves no row', async () => {
    const { bucket, registry, store } = await setup();
    const content = makeContent(2 * PART + 1000);
    const send = S3Client.prototype.send;
    const seen: { key: string; heartbeatAt: number }[][] = [];
    jest
      .spyOn(S3Client.prototype, 'send')
      .mockImplementation(async function sendSpy(this: S3Client, command: any) {
        if (command instanceof UploadPartCommand) {
          seen.push(
            (await registry.list()).map(r => ({
              key: r.key,
              heartbeatAt: r.heartbeatAt,
            })),
          );
        }
        return (send as any).call(this, command);
      });

    const put = await store.put(Readable.from([content]));

    expect(put).toMatchObject({ sha256: sha256Of(content), created: true });
    expect(seen).toHaveLength(3);
    for (const rows of seen) {
      expect(rows).toEqual([
        {
          key: `hub/sha256/${put.sha256.slice(0, 2)}/${put.sha256}`,
          heartbeatAt: expect.any(Number),
        },
      ]);
    }
    expect(await registry.list()).toEqual([]);
    expect(openUploads(bucket)).toEqual([]);
  });

  it("renews a slow writer's heartbeat, so a clean-up elsewhere spares its upload", async () => {
    const a = await setup({ staleAfterMs: 800, heartbeatMs: 100 });
    // another instance's store on the same bucket and database
    const b = await S3ArtifactStore.create({
      bucket: a.bucket,
      prefix: 'hub/',
      spoolDir: join(mockDir.path, `spool-${id}-b`),
      partSize: PART,
      multipartRegistry: new S3MultipartRegistry(knex, { staleAfterMs: 800 }),
      client: clientConfig(),
    });
    const send = S3Client.prototype.send;
    let cleanedMeanwhile: { removed: number } | undefined;
    jest
      .spyOn(S3Client.prototype, 'send')
      .mockImplementation(async function sendSpy(this: S3Client, command: any) {
        if (command instanceof UploadPartCommand && !cleanedMeanwhile) {
          // the part takes 2 s: longer than the stale window
          await new Promise(r => setTimeout(r, 2000));
          cleanedMeanwhile = await b.cleanup({ olderThan: new Date() });
        }
        return (send as any).call(this, command);
      });

    const content = makeContent(PART + 1000);
    const put = await a.store.put(Readable.from([content]));

    expect(cleanedMeanwhile).toEqual({ removed: 0 });
    expect(put).toMatchObject({ sha256: sha256Of(content), created: true });
    expect(await a.registry.list()).toEqual([]);
  });

  it('keeps the row of an upload the server cannot abort, without failing the clean-up', async () => {
    // s3rver itself answers AbortMultipartUpload 405
    const { bucket, s3, registry, store } = await setup({
      endpoint: s3rverUrl,
    });
    const dead = new S3MultipartRegistry(knex, {
      now: () => Date.now() - 600_000,
    });
    const key = `hub/sha256/ef/${'ef'.repeat(32)}`;
    const { tracked, uploadId } = await openUpload(dead, s3, bucket, key);
    tracked.close();

    expect(await store.cleanup({ olderThan: new Date() })).toEqual({
      removed: 0,
    });
    expect(await registry.list()).toEqual([
      expect.objectContaining({ key, uploadId }),
    ]);
    expect(openUploads(bucket)).toEqual([uploadId]);
  });

  it('migrates its table down and up', async () => {
    const directory = DatabaseModelHubStore.migrationsDirectory;
    const name = '20261202710000_s3_multipart_uploads.js';
    await knex.migrate.down({ directory, name });
    await expect(knex.schema.hasTable('s3_multipart_uploads')).resolves.toBe(
      false,
    );
    await knex.migrate.up({ directory, name });
    await expect(knex.schema.hasTable('s3_multipart_uploads')).resolves.toBe(
      true,
    );
  });
});

describe('readMultipartStaleAfterMs', () => {
  it('defaults to 2 minutes and reads a duration', () => {
    expect(readMultipartStaleAfterMs(new ConfigReader({}))).toBe(120_000);
    expect(
      readMultipartStaleAfterMs(
        new ConfigReader({
          modelHub: {
            storage: { s3: { multipartStaleAfter: { seconds: 30 } } },
          },
        }),
      ),
    ).toBe(30_000);
    expect(() =>
      readMultipartStaleAfterMs(
        new ConfigReader({
          modelHub: {
            storage: { s3: { multipartStaleAfter: { seconds: 0 } } },
          },
        }),
      ),
    ).toThrow(/positive/);
  });
});
