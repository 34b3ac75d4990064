import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import {
  BOB,
  createHarness,
  Harness,
  tusMetadata,
} from './__testUtils__/harness';

// The creation hook and termination of the tus server (tusServer.ts); the
// uploads tests cover whole uploads with tus-js-client.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const mockDir = createMockDirectory();

function create(h: Harness, values: Record<string, string>, user?: string) {
  const req = request(h.app)
    .post('/api/model-hub/uploads')
    .set('Tus-Resumable', '1.0.0')
    .set('Upload-Length', '4')
    .set('Upload-Metadata', tusMetadata(values));
  if (user) {
    req.set('Authorization', mockCredentials.user.header(user));
  }
  return req;
}

describe('tus server', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      knex: await databases.init('SQLITE_3'),
      root: mockDir.resolve('tus'),
    });
    await h.seed();
  });

  afterEach(async () => {
    for (const { id, created_by } of await h.knex('upload_sessions')) {
      await request(h.app)
        .delete(`/api/model-hub/uploads/${id}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Authorization', mockCredentials.user.header(created_by))
        .expect(204);
    }
    h.setDeny(() => false);
  });

  it('binds an upload to the model given as entity ref, namespace/name or name', async () => {
    const forms = ['model:default/llama', 'default/llama', 'llama'];
    for (const [i, model] of forms.entries()) {
      const res = await create(h, {
        model,
        version: 'v1',
        path: `ref-${i}.bin`,
      }).expect(201);
      expect(res.headers.location).toMatch(
        /\/api\/model-hub\/uploads\/[a-f0-9]{32}$/,
      );
    }
    const sessions = await h.knex('upload_sessions').orderBy('path');
    expect(sessions.map(s => s.path)).toEqual([
      'ref-0.bin',
      'ref-1.bin',
      'ref-2.bin',
    ]);
    expect(new Set(sessions.map(s => s.model_ref))).toEqual(
      new Set(['model:default/llama']),
    );
    const events = h.events.filter(e => e.eventId === 'upload-create');
    expect(events.slice(-3)).toEqual([
      { eventId: 'upload-create', outcome: 'success' },
      { eventId: 'upload-create', outcome: 'success' },
      { eventId: 'upload-create', outcome: 'success' },
    ]);
  });

  it('takes the path from filename when path is missing', async () => {
    await create(h, {
      model: 'default/llama',
      version: 'v1',
      filename: 'from-name.bin',
    }).expect(201);
    expect(
      await h.knex('upload_sessions').where({ path: 'from-name.bin' }).first(),
    ).toBeDefined();
  });

  it('refuses malformed metadata with 400 and a JSON error body', async () => {
    const malformed: Record<string, string>[] = [
      { model: 'a/b/c', version: 'v1', path: 'x.bin' },
      { model: 'user:default/llama', version: 'v1', path: 'x.bin' },
      { model: 'default/llama', version: 'v1', path: 'x.bin', kind: 'pdf' },
      { model: 'default/llama', version: 'v1', path: 'x.bin', sha256: 'AB' },
      { model: 'default/llama', version: 'v1' },
    ];
    for (const values of malformed) {
      const res = await create(h, values).expect(400);
      expect(JSON.parse(res.text)).toMatchObject({
        error: { name: 'InputError' },
        response: { statusCode: 400 },
      });
    }
    expect(
      JSON.parse(
        (
          await create(h, {
            model: 'a/b/c',
            version: 'v1',
            path: 'x.bin',
          })
        ).text,
      ).error.message,
    ).toBe("Invalid model 'a/b/c'");
    expect(await h.knex('upload_sessions')).toEqual([]);
  });

  it('limits the unfinished uploads per user (409)', async () => {
    const { maxActiveUploadsPerUser } = h.config;
    for (let i = 0; i < maxActiveUploadsPerUser; i++) {
      await create(h, {
        model: 'default/llama',
        version: 'v1',
        path: `open-${i}.bin`,
      }).expect(201);
    }
    const res = await create(h, {
      model: 'default/llama',
      version: 'v1',
      path: 'one-more.bin',
    }).expect(409);
    expect(JSON.parse(res.text).error.message).toBe(
      `Too many unfinished uploads (${maxActiveUploadsPerUser}); finish or delete some first`,
    );
    // the limit is per user
    await create(
      h,
      { model: 'default/llama', version: 'v1', path: 'bobs.bin' },
      BOB,
    ).expect(201);
    expect(h.events).toContainEqual({
      eventId: 'upload-create',
      outcome: 'fail',
    });
  });

  it('checks the upload permission at creation (403), audited', async () => {
    h.setDeny(p => p === 'model-hub.artifact.upload');
    const before = h.events.length;
    const res = await create(h, {
      model: 'default/llama',
      version: 'v1',
      path: 'denied.bin',
    }).expect(403);
    expect(JSON.parse(res.text).error.name).toBe('NotAllowedError');
    expect(h.events.slice(before)).toEqual([
      { eventId: 'upload-create', outcome: 'fail' },
    ]);
    expect(await h.knex('upload_sessions')).toEqual([]);
  });

  it('terminates only uploads of the caller, audited, the tus way', async () => {
    const created = await create(h, {
      model: 'default/llama',
      version: 'v1',
      path: 'terminate.bin',
    }).expect(201);
    const location = new URL(created.headers.location).pathname;
    const foreign = await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .set('Authorization', mockCredentials.user.header(BOB))
      .expect(403);
    expect(foreign.headers['tus-resumable']).toBe('1.0.0');
    await request(h.app)
      .delete('/api/model-hub/uploads/not-an-upload-id')
      .set('Tus-Resumable', '1.0.0')
      .expect(404);
    const before = h.events.length;
    await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .expect(204);
    expect(h.events.slice(before)).toEqual([
      { eventId: 'upload-terminate', outcome: 'success' },
    ]);
    await request(h.app)
      .delete(location)
      .set('Tus-Resumable', '1.0.0')
      .expect(404);
  });

  it('announces its protocol on OPTIONS', async () => {
    const res = await request(h.app)
      .options('/api/model-hub/uploads')
      .expect(204);
    expect(res.headers['tus-version']).toBe('1.0.0');
    expect(res.headers['tus-extension']).toMatch(/creation/);
    expect(res.headers['tus-extension']).toMatch(/termination/);
    expect(res.headers['tus-max-size']).toBe(String(h.config.maxFileBytes));
  });
});
