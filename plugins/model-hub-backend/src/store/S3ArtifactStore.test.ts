import { promises as fs } from 'node:fs';
import { createServer, request as httpRequest, Server } from 'node:http';
import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import { createMockDirectory } from '@backstage/backend-test-utils';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { S3ArtifactStore, selectAbandonedUploads } from './S3ArtifactStore';
import {
  artifactStoreSuite,
  makeContent,
  sha256Of,
} from './__testUtils__/artifactStoreSuite';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();

describe('S3ArtifactStore against s3rver', () => {
  let server: S3rver;
  let endpoint: string;
  let n = 0;

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

  async function createStore(
    options: { endpoint?: string; uploadExpirationMs?: number } = {},
  ) {
    n += 1;
    const bucket = `bucket-${n}`;
    const client = {
      endpoint: options.endpoint ?? endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
    const s3 = new S3Client(client);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const spoolDir = join(mockDir.path, `spool-${n}`);
    const store = await S3ArtifactStore.create({
      bucket,
      prefix: 'hub/',
      spoolDir,
      partSize: 5 * 1024 * 1024,
      uploadExpirationMs: options.uploadExpirationMs,
      client,
    });
    return { store, s3, bucket, spoolDir };
  }

  artifactStoreSuite(async () => (await createStore()).store, {
    // larger than the part size, so that the multipart path is used
    largeSize: 12 * 1024 * 1024,
  });

  it('uses multipart uploads above the part size, under the prefix, with the digest as metadata', async () => {
    const { store, s3, bucket } = await createStore();
    const send = jest.spyOn(S3Client.prototype, 'send');
    try {
      const content = makeContent(11 * 1024 * 1024, 5);
      const put = await store.put(Readable.from([content]));
      const commands = send.mock.calls.map(c => c[0].constructor.name);
      expect(commands).toContain('CreateMultipartUploadCommand');
      expect(commands.filter(c => c === 'UploadPartCommand').length).toBe(3);
      expect(commands).toContain('CompleteMultipartUploadCommand');
      expect(commands).not.toContain('PutObjectCommand');

      const digest = sha256Of(content);
      expect(put.location).toBe(
        `s3://${bucket}/hub/sha256/${digest.slice(0, 2)}/${digest}`,
      );
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket }),
      );
      expect(listed.Contents?.map(o => o.Key)).toEqual([
        `hub/sha256/${digest.slice(0, 2)}/${digest}`,
      ]);
      const head = await s3.send(
        new HeadObjectCommand({
          Bucket: bucket,
          Key: `hub/sha256/${digest.slice(0, 2)}/${digest}`,
        }),
      );
      expect(head.Metadata).toEqual({ sha256: digest });
    } finally {
      send.mockRestore();
    }
  });

  it('removes stale spool files, never one younger than the upload expiration', async () => {
    const { store, spoolDir } = await createStore();
    const crashed = join(spoolDir, 'left-by-a-crash.partial');
    const live = join(spoolDir, 'written-by-another-instance.partial');
    await fs.writeFile(crashed, 'x');
    await fs.writeFile(live, 'y');
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    await fs.utimes(crashed, hoursAgo(25), hoursAgo(25));
    await fs.utimes(live, hoursAgo(23), hoursAgo(23));
    await expect(store.cleanup({ olderThan: hoursAgo(26) })).resolves.toEqual({
      removed: 0,
    });
    // asked for everything up to now (as the boot did): the write of the
    // last 24 hours (the default upload expiration) stays
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 1 });
    expect(await fs.readdir(spoolDir)).toEqual([
      'written-by-another-instance.partial',
    ]);
  });

  it('takes the upload expiration it is given', async () => {
    const { store, spoolDir } = await createStore({
      uploadExpirationMs: 60_000,
    });
    const file = join(spoolDir, 'x.partial');
    await fs.writeFile(file, 'x');
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 0 });
    const old = new Date(Date.now() - 120_000);
    await fs.utimes(file, old, old);
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 1 });
  });

  // s3rver answers ListMultipartUploads with NotImplemented (so the store
  // skips it there): a fake of that call (and of AbortMultipartUpload) in
  // front of s3rver, which serves everything else, lists uploads of this
  // deployment and of another one sharing the bucket, old and young, over
  // two pages, ignoring the prefix as a careless server might.
  describe('incomplete multipart uploads (ListMultipartUploads faked in front of s3rver)', () => {
    const digest = (c: string) => c.repeat(64);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    let proxy: Server;
    let proxyEndpoint: string;
    let listed: URLSearchParams[];
    let aborted: string[];
    let pages: { Key: string; UploadId: string; Initiated: Date }[][];

    beforeAll(async () => {
      proxy = createServer((req, res) => {
        const url = new URL(req.url!, 'http://proxy');
        if (req.method === 'GET' && url.searchParams.has('uploads')) {
          listed.push(url.searchParams);
          const index = Number(url.searchParams.get('key-marker') || 0);
          const page = pages[index];
          const last = index + 1 >= pages.length;
          res.setHeader('Content-Type', 'application/xml');
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>${url.pathname.slice(1)}</Bucket><MaxUploads>2</MaxUploads>
<IsTruncated>${!last}</IsTruncated>
${
  last
    ? ''
    : `<NextKeyMarker>${index + 1}</NextKeyMarker><NextUploadIdMarker>u${
        index + 1
      }</NextUploadIdMarker>`
}
${page
  .map(
    u =>
      `<Upload><Key>${u.Key}</Key><UploadId>${
        u.UploadId
      }</UploadId><Initiated>${u.Initiated.toISOString()}</Initiated></Upload>`,
  )
  .join('\n')}
</ListMultipartUploadsResult>`,
          );
          return;
        }
        if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
          aborted.push(
            `${decodeURIComponent(url.pathname)} ${url.searchParams.get(
              'uploadId',
            )}`,
          );
          res.statusCode = 204;
          res.end();
          return;
        }
        const target = new URL(endpoint);
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
        req.pipe(forward);
      });
      await new Promise<void>(r => proxy.listen(0, '127.0.0.1', r));
      proxyEndpoint = `http://127.0.0.1:${
        (proxy.address() as AddressInfo).port
      }`;
    });

    afterAll(async () => {
      await new Promise(r => proxy.close(r));
    });

    beforeEach(() => {
      listed = [];
      aborted = [];
    });

    it("aborts only this deployment's uploads older than the upload expiration", async () => {
      const mine = (c: string) => `hub/sha256/${c}${c}/${digest(c)}`;
      pages = [
        [
          // a crash a day and more ago: aborted
          { Key: mine('a'), UploadId: 'crashed-1', Initiated: hoursAgo(25) },
          // live on another instance (started an hour ago): kept
          { Key: mine('b'), UploadId: 'live', Initiated: hoursAgo(1) },
        ],
        [
          // another deployment in the same bucket: kept, however old
          {
            Key: `other/sha256/cc/${digest('c')}`,
            UploadId: 'theirs',
            Initiated: hoursAgo(100),
          },
          // not a blob key of this store: kept
          {
            Key: 'hub/sha256/dd/notes.txt',
            UploadId: 'odd',
            Initiated: hoursAgo(100),
          },
        ],
        [{ Key: mine('e'), UploadId: 'crashed-2', Initiated: hoursAgo(48) }],
      ];
      const { store, bucket } = await createStore({ endpoint: proxyEndpoint });
      // the store works through the fake (s3rver behind it)
      const put = await store.put(Readable.from([Buffer.from('hello')]));
      expect((await store.stat(put.sha256))?.size).toBe(5);

      // asked to remove everything started before now, as the boot did
      await expect(store.cleanup({ olderThan: new Date() })).resolves.toEqual({
        removed: 2,
      });
      expect(aborted).toEqual([
        `/${bucket}/${mine('a')} crashed-1`,
        `/${bucket}/${mine('e')} crashed-2`,
      ]);
      // three pages, each asked under this deployment's prefix
      expect(listed.map(q => q.get('prefix'))).toEqual([
        'hub/sha256/',
        'hub/sha256/',
        'hub/sha256/',
      ]);
      expect(listed.map(q => q.get('key-marker'))).toEqual([null, '1', '2']);
      expect(listed.map(q => q.get('upload-id-marker'))).toEqual([
        null,
        'u1',
        'u2',
      ]);
    });

    it('takes a shorter upload expiration, and an older cutoff', async () => {
      pages = [
        [
          {
            Key: `hub/sha256/aa/${digest('a')}`,
            UploadId: 'two-hours',
            Initiated: hoursAgo(2),
          },
          {
            Key: `hub/sha256/bb/${digest('b')}`,
            UploadId: 'ten-minutes',
            Initiated: hoursAgo(1 / 6),
          },
        ],
      ];
      const { store } = await createStore({
        endpoint: proxyEndpoint,
        uploadExpirationMs: 3_600_000,
      });
      await expect(store.cleanup({ olderThan: hoursAgo(3) })).resolves.toEqual({
        removed: 0,
      });
      await expect(store.cleanup({ olderThan: new Date() })).resolves.toEqual({
        removed: 1,
      });
      expect(aborted).toEqual([expect.stringMatching(/ two-hours$/)]);
    });
  });
});

describe('selectAbandonedUploads', () => {
  const d = 'ab'.repeat(32);
  const old = new Date('2026-01-01T00:00:00Z');
  const cutoff = new Date('2026-01-02T00:00:00Z');
  it.each([
    ['a blob key under the prefix', `p/sha256/ab/${d}`, 1],
    ['the empty prefix', `sha256/ab/${d}`, 0],
    ['another prefix', `q/sha256/ab/${d}`, 0],
    ['a prefix that only starts like it', `px/sha256/ab/${d}`, 0],
    ['a wrong fan-out folder', `p/sha256/cd/${d}`, 0],
    ['a deeper key', `p/sha256/ab/${d}/x`, 0],
    ['an upper-case digest', `p/sha256/AB/${d.toUpperCase()}`, 0],
  ])('%s', (_what, key, count) => {
    expect(
      selectAbandonedUploads([{ Key: key, UploadId: 'u', Initiated: old }], {
        prefix: 'p/',
        cutoff,
      }),
    ).toHaveLength(count);
  });

  it('keeps uploads initiated at or after the cutoff', () => {
    expect(
      selectAbandonedUploads(
        [{ Key: `sha256/ab/${d}`, UploadId: 'u', Initiated: cutoff }],
        { prefix: '', cutoff },
      ),
    ).toEqual([]);
    expect(
      selectAbandonedUploads(
        [{ Key: `sha256/ab/${d}`, UploadId: 'u', Initiated: old }],
        { prefix: '', cutoff },
      ),
    ).toEqual([{ Key: `sha256/ab/${d}`, UploadId: 'u' }]);
  });
});
