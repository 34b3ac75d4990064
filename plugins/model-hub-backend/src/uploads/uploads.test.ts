import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import {
  globalPickle,
  makeSafetensors,
} from '../inspection/__testUtils__/generators';
import { BOB, createHarness, Harness } from './__testUtils__/harness';
import {
  tusCreateRequest,
  tusHead,
  tusPatch,
  tusUpload,
} from './__testUtils__/tus';
import {
  cuttingProxy,
  memorySampler,
  writeRandomFile,
} from './__testUtils__/net';

jest.setTimeout(180_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MIB = 1024 * 1024;

const META = { model: 'default/llama', version: 'v1' };

describe.each(databases.eachSupportedId())('uploads (%s)', id => {
  let h: Harness;
  let root: string;

  beforeAll(async () => {
    root = mockDir.resolve(`uploads-${id}`);
    h = await createHarness({
      knex: await databases.init(id),
      root,
      maxFileBytes: 512 * MIB,
    });
    await h.seed();
  });

  it('uploads with tus-js-client, hashes, stores, lists and inspects the file', async () => {
    const { url, server } = await h.listen();
    try {
      const content = makeSafetensors([
        { name: 'w', dtype: 'F32', shape: [64, 32] },
      ]);
      const result = await tusUpload(content, {
        endpoint: `${url}/uploads`,
        metadata: { ...META, path: 'weights/model.safetensors' },
        chunkSize: 3000,
      });
      expect(result.url).toMatch(new RegExp(`^${url}/uploads/[a-f0-9]{32}$`));
      expect(result.sha256).toBe(sha(content));
      expect(result.checks).toMatch(
        /format:safetensors:weights\/model.safetensors=pass/,
      );
      expect(await h.files()).toContainEqual(
        expect.objectContaining({
          path: 'weights/model.safetensors',
          sha256: sha(content),
          kind: 'weights',
        }),
      );
      const check = await h
        .knex('version_checks')
        .where({ name: 'inspect:format:safetensors:weights/model.safetensors' })
        .first();
      expect(JSON.parse(check.details)).toMatchObject({ parameterCount: 2048 });
      // the upload is gone once the file is in the store
      expect((await h.counts()).sessions).toBe(0);
      expect(await fs.readdir(join(h.config.directory, 'tus'))).toEqual([]);
      expect(h.events).toContainEqual({
        eventId: 'artifact-upload',
        outcome: 'success',
      });
      expect(h.events).toContainEqual({
        eventId: 'upload-create',
        outcome: 'success',
      });
    } finally {
      server.close();
    }
  });

  it('inspects files stored otherwise, and forgets the checks of removed files', async () => {
    const content = makeSafetensors([{ name: 'w', dtype: 'F32', shape: [5] }]);
    await request(h.app)
      .put(
        '/api/model-hub/models/default/llama/versions/v1/files/put/m.safetensors',
      )
      .set('Content-Type', 'application/octet-stream')
      .send(content)
      .expect(201);
    const versionId = (
      await h.knex('model_versions').where({ label: 'v1' }).first()
    ).id;
    const found = await h.uploads.inspection.inspectStoredFile(
      versionId,
      { path: 'put/m.safetensors', sha256: sha(content), size: content.length },
      h.artifacts,
    );
    expect(found[0]).toMatchObject({
      status: 'pass',
      details: { parameterCount: 5 },
    });
    const name = 'inspect:format:safetensors:put/m.safetensors';
    expect(await h.knex('version_checks').where({ name }).first()).toBeTruthy();
    await h.uploads.inspection.forgetFile(versionId, 'put/m.safetensors');
    expect(
      await h.knex('version_checks').where({ name }).first(),
    ).toBeUndefined();
  });

  it('flags pickle uploads', async () => {
    const { url, server } = await h.listen();
    try {
      const result = await tusUpload(globalPickle('os', 'system'), {
        endpoint: `${url}/uploads`,
        metadata: { ...META, path: 'evil.pkl' },
      });
      expect(result.checks).toMatch(/safety:pickle:evil.pkl=fail/);
      const safety = await h
        .knex('version_checks')
        .where({ name: 'model-hub.safety' })
        .first();
      expect(safety).toMatchObject({ status: 'failed' });
    } finally {
      server.close();
    }
  });

  it('checks the upload permission on creation and on every request, per upload', async () => {
    h.setDeny(p => p === 'model-hub.artifact.upload');
    const denied = await tusCreateRequest(h, 10, {
      ...META,
      path: 'a.txt',
    }).expect(403);
    expect(denied.text).toMatch(/Not allowed: model-hub.artifact.upload/);
    h.setDeny(() => false);

    const created = await tusCreateRequest(h, 10, {
      ...META,
      path: 'a.txt',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    // another user with the permission is not the owner of this upload
    await tusHead(h, location)
      .set('Authorization', mockCredentials.user.header(BOB))
      .expect(403);
    await tusPatch(h, location, Buffer.alloc(10), 0)
      .set('Authorization', mockCredentials.user.header(BOB))
      .expect(403);
    // the permission revoked after creation: PATCH refused
    h.setDeny(p => p === 'model-hub.artifact.upload');
    await tusPatch(h, location, Buffer.alloc(10), 0).expect(403);
    await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .expect(403);
    h.setDeny(() => false);
    // anonymous
    await tusHead(h, location)
      .set('Authorization', mockCredentials.none.header())
      .expect(401);
    // termination removes the bytes and the session
    await tusHead(h, location).expect(200);
    await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .expect(204);
    await tusHead(h, location).expect(404);
    expect((await h.counts()).sessions).toBe(0);
    expect(h.events).toContainEqual({
      eventId: 'upload-terminate',
      outcome: 'success',
    });
  });

  it('rejects hostile upload ids and never serves upload content', async () => {
    for (const bad of [
      '..%2F..%2Fstore%2Fsha256',
      '..%5C..%5Cx',
      '%2e%2e',
      'abc%00def',
      'A'.repeat(32),
      'f'.repeat(64),
      '%C3%A9'.repeat(16),
    ]) {
      const res = await tusHead(h, `/api/model-hub/uploads/${bad}`);
      expect([400, 404]).toContain(res.status);
      const patch = await tusPatch(
        h,
        `/api/model-hub/uploads/${bad}`,
        Buffer.alloc(4),
        0,
      );
      expect([400, 404]).toContain(patch.status);
    }
    const created = await tusCreateRequest(h, 4, {
      ...META,
      path: 'b.txt',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    await request(h.app).get(location).expect(404);
    await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .expect(204);
  });

  it('validates metadata, size and the version state at creation', async () => {
    const bad = await tusCreateRequest(h, 10, {
      ...META,
      path: '../../etc/passwd',
    }).expect(400);
    expect(bad.text).toMatch(/must not contain empty, \. or \.\. segments/);
    await tusCreateRequest(h, 10, { ...META, path: '/abs' }).expect(400);
    await tusCreateRequest(h, 10, { ...META, path: 'a\\b' }).expect(400);
    await tusCreateRequest(h, 10, { model: 'default/llama', path: 'x' }).expect(
      400,
    );
    await tusCreateRequest(h, 10, {
      ...META,
      version: 'nope',
      path: 'x',
    }).expect(404);
    await tusCreateRequest(h, 10, {
      model: 'default/unknown',
      version: 'v1',
      path: 'x',
    }).expect(404);
    await tusCreateRequest(h, 10, {
      ...META,
      path: 'weights/model.safetensors',
    }).expect(409);
    await tusCreateRequest(h, 513 * MIB, { ...META, path: 'big.bin' }).expect(
      413,
    );
    await request(h.app)
      .post('/api/model-hub/uploads')
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Defer-Length', '1')
      .set(
        'Upload-Metadata',
        `model ${Buffer.from('default/llama').toString(
          'base64',
        )},version ${Buffer.from('v1').toString('base64')},path ${Buffer.from(
          'd.bin',
        ).toString('base64')}`,
      )
      .expect(400);
    expect((await h.counts()).sessions).toBe(0);
  });

  it('refuses to finish into a version that left draft (409) and leaves nothing', async () => {
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions')
      .send({ label: 'frozen' })
      .expect(201);
    const created = await tusCreateRequest(h, 4, {
      ...META,
      version: 'frozen',
      path: 'late.txt',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    await h
      .knex('model_versions')
      .where({ label: 'frozen' })
      .update({ state: 'in_review' });
    const before = await h.counts();
    const res = await tusPatch(h, location, Buffer.from('late'), 0).expect(409);
    expect(res.text).toMatch(/in_review/);
    const after = await h.counts();
    expect(after).toEqual({ ...before, sessions: before.sessions - 1 });
    expect(await fs.readdir(join(h.config.directory, 'tus'))).toEqual([]);
  });

  it('verifies an expected sha256 from the metadata', async () => {
    const before = await h.counts();
    const created = await tusCreateRequest(h, 4, {
      ...META,
      path: 'sum.txt',
      sha256: 'a'.repeat(64),
    }).expect(201);
    const res = await tusPatch(
      h,
      new URL(created.headers.location).pathname,
      Buffer.from('abcd'),
      0,
    ).expect(400);
    expect(res.text).toMatch(/Checksum mismatch/);
    expect(await h.counts()).toEqual(before);
  });

  it('resumes after a restart: the hash is rebuilt from the durable prefix', async () => {
    const content = Buffer.concat([
      Buffer.alloc(3 * MIB, 1),
      Buffer.alloc(2 * MIB, 2),
    ]);
    const created = await tusCreateRequest(h, content.length, {
      ...META,
      path: 'restart.bin',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    await tusPatch(h, location, content.subarray(0, 3 * MIB), 0).expect(204);
    // bytes that reached the file but were never fsynced before a "crash"
    const file = join(h.config.directory, 'tus', location.split('/').pop()!);
    await fs.appendFile(file, Buffer.alloc(1000, 9));

    // a new process: same database and folder, no hash state in memory
    const h2 = await createHarness({ knex: h.knex, root });
    const head = await tusHead(h2, location).expect(200);
    expect(head.headers['upload-offset']).toBe(String(3 * MIB));
    const done = await tusPatch(
      h2,
      location,
      content.subarray(3 * MIB),
      3 * MIB,
    ).expect(204);
    expect(done.headers['x-content-sha256']).toBe(sha(content));
  });

  it('uploads 256 MiB through a proxy that cuts the connection twice, with flat memory', async () => {
    const size = 256 * MIB;
    const path = join(root, 'big.bin');
    const expected = await writeRandomFile(path, size);
    const { url, server } = await h.listen();
    const port = Number(new URL(url).port);
    const proxy = await cuttingProxy(port, [
      Math.floor(size / 3),
      Math.floor((2 * size) / 3),
    ]);
    const memory = memorySampler();
    try {
      const result = await tusUpload(createReadStream(path), {
        endpoint: `http://127.0.0.1:${proxy.port}/api/model-hub/uploads`,
        metadata: { ...META, path: 'weights/big.bin' },
        uploadSize: size,
      });
      const used = memory.stop();
      expect(proxy.cuts).toBe(2);
      expect(result.sha256).toBe(expected);
      const file = await h.store.getFile({
        versionId: (
          await h.knex('model_versions').where({ label: 'v1' }).first()
        ).id,
        path: 'weights/big.bin',
      });
      expect(file).toMatchObject({ sha256: expected, size });
      // the bytes are streamed, never held: memory grows far less than the
      // 256 MiB file. Client and server share this jest worker, whose heap
      // also holds whatever earlier tests left for the garbage collector, so
      // only the resident size is bounded here; the benchmark
      // (bench/upload-ingest) measures the server process alone.
      expect(used.rssGrowth).toBeLessThan(150 * MIB);
    } finally {
      memory.stop();
      await proxy.close();
      server.close();
      await fs.rm(path, { force: true });
    }
  });

  it('accepts one file as multipart/form-data (curl -F), streamed into the store', async () => {
    const content = makeSafetensors([
      { name: 'x', dtype: 'F16', shape: [3, 5] },
    ]);
    const res = await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .field('path', 'mp/model.safetensors')
      .attach('file', content, 'ignored-name.safetensors')
      .expect(201);
    expect(res.body.file).toMatchObject({
      path: 'mp/model.safetensors',
      sha256: sha(content),
    });
    expect(res.body.checks[0]).toMatchObject({
      status: 'pass',
      details: { parameterCount: 15 },
    });
    const byName = await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .attach('file', Buffer.from('{"model_type":"x"}'), 'config.json')
      .expect(201);
    expect(byName.body.file.path).toBe('config.json');

    const before = await h.counts();
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .field('path', '../evil')
      .attach('file', Buffer.from('x'), 'x')
      .expect(400);
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .field('path', 'nofile')
      .expect(400);
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .attach('a', Buffer.from('1'), 'one.txt')
      .attach('b', Buffer.from('2'), 'two.txt')
      .expect(400);
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .field('sha256', 'b'.repeat(64))
      .attach('file', Buffer.from('abc'), 'sum.txt')
      .expect(400);
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .set('Content-Type', 'application/json')
      .send({})
      .expect(400);
    h.setDeny(p => p === 'model-hub.artifact.upload');
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v1/files')
      .attach('file', Buffer.from('x'), 'denied.txt')
      .expect(403);
    h.setDeny(() => false);
    expect(await h.counts()).toEqual(before);
  });

  it('documents its routes in the OpenAPI document', async () => {
    const doc = parseYaml(
      readFileSync(join(__dirname, '..', 'schema', 'openapi.yaml'), 'utf8'),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops as object).map(m => `${m.toUpperCase()} ${path}`),
      ),
    );
    const stack = (h.app as any)._router.stack
      .filter((l: any) => l.name === 'router')
      .flatMap((l: any) => l.handle.stack);
    const mine = stack
      .filter(
        (l: any) => l.route && /uploads|packages|\/files$/.test(l.route.path),
      )
      .flatMap((l: any) =>
        Object.keys(l.route.methods).map(
          m => `${m.toUpperCase()} ${l.route.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      );
    expect(mine.length).toBeGreaterThanOrEqual(9);
    for (const route of mine) {
      expect([route, documented.has(route)]).toEqual([route, true]);
    }
  });

  it('removes expired uploads', async () => {
    const created = await tusCreateRequest(h, 10, {
      ...META,
      path: 'old.txt',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    const { removed } = await h.uploads.cleanup(
      new Date(Date.now() + 2 * 3_600_000),
    );
    expect(removed).toBeGreaterThanOrEqual(1);
    await tusHead(h, location).expect(404);
  });
});
