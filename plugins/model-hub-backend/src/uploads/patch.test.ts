import { createHash } from 'node:crypto';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { createHarness, Harness } from './__testUtils__/harness';
import { tusCreate, tusHead, tusPatch } from './__testUtils__/tus';

// The protocol rules of the hand-written tus PATCH (patch.ts); the uploads
// tests cover it end to end with tus-js-client.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const mockDir = createMockDirectory();

describe('tus PATCH', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      knex: await databases.init('SQLITE_3'),
      root: mockDir.resolve('patch'),
    });
    await h.seed();
  });

  // at most 5 unfinished uploads per user: each test removes its own
  const created: string[] = [];
  afterEach(async () => {
    for (const location of created.splice(0)) {
      await request(h.app).delete(location).set('Tus-Resumable', '1.0.0');
    }
  });

  async function create(path: string, size: number) {
    const location = await tusCreate(h, path, size);
    created.push(location);
    return location;
  }

  /** A PATCH at offset 0 unless `headers` say otherwise. */
  function patch(
    location: string,
    body: Buffer,
    headers: Record<string, string | undefined> = {},
  ) {
    return tusPatch(h, location, body, 0, headers);
  }

  async function offsetOf(location: string) {
    const head = await tusHead(h, location).expect(200);
    return head.headers['upload-offset'];
  }

  it('writes chunks, announces the expiry, and finishes with the last one', async () => {
    const content = Buffer.from('0123456789');
    const location = await create('chunks.txt', content.length);
    const first = await patch(location, content.subarray(0, 4)).expect(204);
    expect(first.headers['tus-resumable']).toBe('1.0.0');
    expect(first.headers['upload-offset']).toBe('4');
    expect(new Date(first.headers['upload-expires']).getTime()).toBeGreaterThan(
      Date.now(),
    );
    expect(first.headers['x-content-sha256']).toBeUndefined();
    expect(await offsetOf(location)).toBe('4');

    const last = await patch(location, content.subarray(4), {
      'Upload-Offset': '4',
    }).expect(204);
    expect(last.headers['upload-offset']).toBe('10');
    expect(last.headers['upload-expires']).toBeUndefined();
    expect(last.headers['x-content-sha256']).toBe(
      createHash('sha256').update(content).digest('hex'),
    );
    expect(last.headers).toHaveProperty('x-model-hub-checks');
    // the upload is gone, the file is in the version
    await tusHead(h, location).expect(404);
    expect(await h.files()).toContainEqual(
      expect.objectContaining({ path: 'chunks.txt', size: 10 }),
    );
  });

  it('requires Tus-Resumable 1.0.0 (412), before anything else', async () => {
    const location = await create('resumable.txt', 4);
    for (const version of [undefined, '0.2.2']) {
      const res = await patch(location, Buffer.alloc(4), {
        'Tus-Resumable': version,
      }).expect(412);
      expect(res.text).toBe('Tus-Resumable Required\n');
      expect(res.headers['tus-resumable']).toBe('1.0.0');
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
    }
    // even for an upload that does not exist
    await patch(`/api/model-hub/uploads/${'a'.repeat(32)}`, Buffer.alloc(4), {
      'Tus-Resumable': undefined,
    }).expect(412);
    expect(await offsetOf(location)).toBe('0');
  });

  it('requires a decimal Upload-Offset and the tus content type (403)', async () => {
    const location = await create('headers.txt', 4);
    for (const offset of [undefined, '', '-1', '1e3', '0x10', '1'.repeat(17)]) {
      const res = await patch(location, Buffer.alloc(4), {
        'Upload-Offset': offset,
      }).expect(403);
      expect(res.text).toBe('Upload-Offset header required\n');
    }
    for (const type of [undefined, 'application/octet-stream', 'text/plain']) {
      const res = await patch(location, Buffer.alloc(4), {
        'Content-Type': type,
      }).expect(403);
      expect(res.text).toBe('Content-Type header required\n');
    }
    expect(await offsetOf(location)).toBe('0');
  });

  it('answers 409 when Upload-Offset is not the current offset', async () => {
    const location = await create('offset.txt', 8);
    await patch(location, Buffer.alloc(4)).expect(204);
    for (const offset of ['0', '2', '8']) {
      const res = await patch(location, Buffer.alloc(4), {
        'Upload-Offset': offset,
      }).expect(409);
      expect(res.text).toBe('Upload-Offset conflict\n');
    }
    expect(await offsetOf(location)).toBe('4');
  });

  it('answers 413 for a body longer than what is left, writing nothing', async () => {
    const location = await create('long.txt', 6);
    await patch(location, Buffer.alloc(4)).expect(204);
    const res = await patch(location, Buffer.alloc(3), {
      'Upload-Offset': '4',
    }).expect(413);
    expect(res.text).toBe("upload's size exceeded\n");
    expect(await offsetOf(location)).toBe('4');
  });

  it('answers 410 for an expired upload', async () => {
    const location = await create('expired.txt', 4);
    const expirationMs = h.config.expirationMs;
    h.config.expirationMs = -1;
    try {
      const res = await patch(location, Buffer.alloc(4)).expect(410);
      expect(res.text).toBe('The file for this url no longer exists\n');
    } finally {
      h.config.expirationMs = expirationMs;
    }
  });

  it('answers authorization errors as JSON, the way the tus server does', async () => {
    const location = await create('owner.txt', 4);
    const other = await patch(location, Buffer.alloc(4)).set(
      'Authorization',
      mockCredentials.user.header('user:default/bob'),
    );
    expect(other.status).toBe(403);
    expect(other.headers['tus-resumable']).toBe('1.0.0');
    expect(other.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(other.text)).toEqual({
      error: {
        name: 'NotAllowedError',
        message: 'The upload belongs to someone else',
      },
      response: { statusCode: 403 },
    });
    const unknown = await patch(
      `/api/model-hub/uploads/${'b'.repeat(32)}`,
      Buffer.alloc(4),
    ).expect(404);
    expect(JSON.parse(unknown.text).error).toEqual({
      name: 'NotFoundError',
      message: 'Upload not found',
    });
    expect(await offsetOf(location)).toBe('0');
  });
});
