import { createHash } from 'node:crypto';
import {
  createMockDirectory,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { createHarness, Harness } from './__testUtils__/harness';

// POST …/versions/{label}/files with one multipart file (multipartRoute.ts);
// the parser has its own tests (multipart.test.ts).

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const mockDir = createMockDirectory();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const FILES = '/api/model-hub/models/default/llama/versions/v1/files';

describe('multipart file upload', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      knex: await databases.init('SQLITE_3'),
      root: mockDir.resolve('multipart'),
    });
    await h.seed();
  });

  it('takes kind and sha256 from the fields, and answers 200 for the same file again', async () => {
    const content = Buffer.from('some weights');
    const first = await request(h.app)
      .post(FILES)
      .field('path', 'w/notes.bin')
      .field('kind', 'weights')
      .field('sha256', sha(content))
      .attach('file', content, 'ignored.bin')
      .expect(201);
    expect(first.body.file).toMatchObject({
      path: 'w/notes.bin',
      kind: 'weights',
      sha256: sha(content),
      size: content.length,
    });
    expect(first.body.checks).toEqual(expect.any(Array));
    expect(h.events).toContainEqual({
      eventId: 'artifact-upload',
      outcome: 'success',
    });
    const again = await request(h.app)
      .post(FILES)
      .field('path', 'w/notes.bin')
      .attach('file', content, 'ignored.bin')
      .expect(200);
    expect(again.body.file).toMatchObject({
      path: 'w/notes.bin',
      sha256: sha(content),
    });
  });

  it('refuses a bad kind or sha256 field (400), storing nothing', async () => {
    const before = await h.counts();
    const kind = await request(h.app)
      .post(FILES)
      .field('kind', 'spreadsheet')
      .attach('file', Buffer.from('x'), 'kind.bin')
      .expect(400);
    expect(kind.body.error.name).toBe('InputError');
    const upper = await request(h.app)
      .post(FILES)
      .field('sha256', 'A'.repeat(64))
      .attach('file', Buffer.from('x'), 'upper.bin')
      .expect(400);
    expect(upper.body.error.message).toMatch(
      /must be 64 lower-case hex characters/,
    );
    expect(await h.counts()).toEqual(before);
  });

  it('undoes the stored bytes when a second file follows (400)', async () => {
    const before = await h.counts();
    const res = await request(h.app)
      .post(FILES)
      .attach('file', Buffer.from('first, new content'), 'first.bin')
      .attach('file', Buffer.from('second'), 'second.bin')
      .expect(400);
    expect(res.body.error.message).toBe('Send one file per request');
    expect(await h.counts()).toEqual(before);
  });

  it('refuses versions that are not editable (409) before reading the body', async () => {
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions')
      .send({ label: 'frozen' })
      .expect(201);
    await h
      .knex('model_versions')
      .where({ label: 'frozen' })
      .update({ state: 'in_review' });
    const before = await h.counts();
    const res = await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/frozen/files')
      .attach('file', Buffer.from('late'), 'late.bin')
      .expect(409);
    expect(res.body.error.message).toMatch(
      /Version frozen is in_review; files can only change/,
    );
    expect(await h.counts()).toEqual(before);
  });

  it('answers 404 for an unknown model or version', async () => {
    await request(h.app)
      .post('/api/model-hub/models/default/nope/versions/v1/files')
      .attach('file', Buffer.from('x'), 'x.bin')
      .expect(404);
    await request(h.app)
      .post('/api/model-hub/models/default/llama/versions/v9/files')
      .attach('file', Buffer.from('x'), 'x.bin')
      .expect(404);
  });
});
