import { join } from 'node:path';
import { AddressInfo } from 'node:net';
import { createMockDirectory } from '@backstage/backend-test-utils';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { S3ArtifactStore } from './S3ArtifactStore';
import { artifactStoreSuite } from './__testUtils__/artifactStoreSuite';

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

  artifactStoreSuite(
    async () => {
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
      await new S3Client(client).send(
        new CreateBucketCommand({ Bucket: bucket }),
      );
      return S3ArtifactStore.create({
        bucket,
        prefix: 'hub/',
        spoolDir: join(mockDir.path, `spool-${n}`),
        partSize: 5 * 1024 * 1024,
        client,
      });
    },
    // larger than the part size, so that the multipart path is used
    { largeSize: 12 * 1024 * 1024 },
  );
});
