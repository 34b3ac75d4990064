import { createHash, randomBytes } from 'node:crypto';
import { AddressInfo } from 'node:net';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  createMockDirectory,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import S3rver from 's3rver';
import request from 'supertest';
import { S3ArtifactStore } from '../store/S3ArtifactStore';
import { Harness } from './__testUtils__/harness';
import { listPartsProxy } from './__testUtils__/listPartsProxy';
import {
  createInstances,
  MIB,
  sha256,
  tusCreate,
  tusHead,
  tusPatch,
  tusUpload,
} from './__testUtils__/tus';

// tus uploads kept in the S3 artifact store's bucket (@tus/s3-store,
// `uploads.tusStore: s3`), on two instances with no shared folder, against
// s3rver (ListParts, which s3rver lacks, answered in front of it from the
// parts s3rver accepted): the SHA-256 is read back once the upload is complete and the
// object copied to its content address.

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

describe.each(databases.eachSupportedId())('tus uploads in S3 (%s)', dbId => {
  let server: S3rver;
  let proxy: Awaited<ReturnType<typeof listPartsProxy>>;
  let s3: S3Client;
  let knex: Knex;
  let instances: Awaited<ReturnType<typeof createInstances>>;
  let a: Harness;
  let b: Harness;
  let artifacts: S3ArtifactStore;
  const bucket = `uploads-${dbId.toLowerCase().replace(/_/g, '-')}`;

  beforeAll(async () => {
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: mockDir.resolve(`s3rver-${dbId}`),
      configureBuckets: [],
    });
    const address = (await server.run()) as AddressInfo;
    proxy = await listPartsProxy(`http://127.0.0.1:${address.port}`);
    const client = {
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
    s3 = new S3Client(client);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    artifacts = await S3ArtifactStore.create({
      bucket,
      prefix: 'hub/',
      spoolDir: mockDir.resolve(`spool-${dbId}`),
      partSize: 5 * MIB,
      client,
    });
    knex = await databases.init(dbId);
    instances = await createInstances({
      knex,
      artifacts,
      s3: { bucket, client, partSize: 5 * MIB },
      config: c => {
        c.tusStore = 's3';
      },
      // no shared folder: each instance has its own
      roots: [mockDir.resolve(`a-${dbId}`), mockDir.resolve(`b-${dbId}`)],
    });
    ({ a, b } = instances);
  });

  afterAll(async () => {
    instances.close();
    s3.destroy();
    await proxy.close();
    await server.close();
  });

  async function keys() {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map(o => o.Key!).sort();
  }

  async function stored(sha: string) {
    const hash = createHash('sha256');
    for await (const chunk of await artifacts.get(sha)) {
      hash.update(chunk as Buffer);
    }
    return hash.digest('hex');
  }

  it('uploads with tus-js-client through a round-robin proxy over both instances', async () => {
    const { endpoint, served } = await instances.roundRobin();
    // 3 MiB chunks: tails shorter than a part wait in `<id>.part` for the
    // next PATCH, on the other instance
    const data = randomBytes(13 * MIB);
    const result = await tusUpload(data, {
      endpoint,
      chunkSize: 3 * MIB,
      retryDelays: [0, 200, 500, 1000],
      metadata: { model: 'default/llama', version: 'v1', path: 'rr.bin' },
    });
    expect(result.sha256).toBe(sha256(data));
    expect(new Set(served).size).toBe(2);
    expect(served.length).toBeGreaterThanOrEqual(6);
    expect(await b.files()).toContainEqual(
      expect.objectContaining({
        path: 'rr.bin',
        sha256: sha256(data),
        size: data.length,
      }),
    );
    expect(await stored(sha256(data))).toBe(sha256(data));
    // only the blob is left in the bucket: the tus objects are gone
    expect(await keys()).toEqual([
      `hub/sha256/${sha256(data).slice(0, 2)}/${sha256(data)}`,
    ]);
    expect(await knex('upload_sessions')).toEqual([]);
    expect(await knex('upload_locks')).toEqual([]);
  });

  it('creates on A, writes on A and B, HEADs on B, finishes on A; a bad checksum leaves nothing', async () => {
    const data = randomBytes(7 * MIB);
    const location = await tusCreate(a, 'ab.bin', data.length);
    await tusPatch(a, location, data.subarray(0, 5 * MIB), 0).expect(204);
    await tusPatch(
      b,
      location,
      data.subarray(5 * MIB, 6 * MIB),
      5 * MIB,
    ).expect(204);
    const head = await tusHead(b, location).expect(200);
    expect(head.headers['upload-offset']).toBe(String(6 * MIB));
    const last = await tusPatch(a, location, data.subarray(6 * MIB), 6 * MIB);
    expect(last.status).toBe(204);
    expect(last.headers['x-content-sha256']).toBe(sha256(data));
    // a second request at the end finds the upload finished
    await tusHead(b, location).expect(404);

    const bad = randomBytes(MIB);
    const badLocation = await tusCreate(b, 'bad.bin', bad.length, {
      sha256: 'f'.repeat(64),
    });
    const refused = await tusPatch(a, badLocation, bad, 0);
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/Checksum mismatch/);
    expect(await keys()).not.toContainEqual(
      expect.stringContaining(badLocation.split('/').pop()!),
    );
    expect(await knex('upload_sessions')).toEqual([]);

    // termination removes the objects and the session
    const endLocation = await tusCreate(a, 'end.bin', 6 * MIB);
    await tusPatch(a, endLocation, randomBytes(MIB), 0).expect(204);
    await request(b.app)
      .delete(endLocation)
      .set('Tus-Resumable', '1.0.0')
      .expect(204);
    expect(await keys()).not.toContainEqual(
      expect.stringContaining(endLocation.split('/').pop()!),
    );
    expect(await knex('upload_sessions')).toEqual([]);
  });
});
