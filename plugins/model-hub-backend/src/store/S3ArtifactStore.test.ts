import { promises as fs } from 'node:fs';
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
import { S3ArtifactStore } from './S3ArtifactStore';
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

  async function createStore() {
    n += 1;
    const bucket = `bucket-${n}`;
    const client = {
      endpoint,
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

  it('removes stale spool files', async () => {
    const { store, spoolDir } = await createStore();
    await fs.writeFile(join(spoolDir, 'left-by-a-crash.partial'), 'x');
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() - 60_000) }),
    ).resolves.toEqual({ removed: 0 });
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 1 });
    expect(await fs.readdir(spoolDir)).toEqual([]);
  });
});
