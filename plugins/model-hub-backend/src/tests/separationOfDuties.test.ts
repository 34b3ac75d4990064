import { promises as fs } from 'node:fs';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import {
  ADMIN,
  ALICE,
  as,
  BOB,
  CAROL,
  createIntegrityHarness,
  IntegrityHarness,
} from './__testUtils__/integrityHarness';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const DANA = 'user:default/dana';
/** A static or external access token, or another plugin: a service principal. */
const SERVICE = mockCredentials.service.header();

/*
 * Who may decide on a version. Alice creates it, Carol uploads a file into
 * it, Dana submits it; everyone holds every permission, so only separation
 * of duties decides.
 */
describe.each(databases.eachSupportedId())('separation of duties (%s)', id => {
  let h: IntegrityHarness;
  let n = 0;

  beforeAll(async () => {
    const root = mockDir.resolve(`sod-${id}`);
    await fs.mkdir(root, { recursive: true });
    h = await createIntegrityHarness({
      knex: await databases.init(id),
      root,
      approvals: { requiredChecks: ['manual-review'] },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A version created by Alice, with a file from Carol, submitted by Dana. */
  async function submitted() {
    const model = `sod-${++n}`;
    await h.createModel(model);
    await h.createVersion(model, 'v1');
    await h.put(model, 'v1', 'notes.txt', Buffer.from('n'), CAROL).expect(201);
    await request(h.app)
      .post(`${h.versionPath(model, 'v1')}/checks/manual-review/waiver`)
      .set('Authorization', as(ADMIN))
      .send({ reason: 'no weights in this version' })
      .expect(201);
    await h.transition(model, 'v1', DANA, 'submit').expect(200);
    return model;
  }

  const decide = (model: string, who: string, action: string) =>
    request(h.app)
      .post(`${h.versionPath(model, 'v1')}/transitions`)
      .set('Authorization', who)
      .send({ action, comment: 'decided' });

  it.each([
    ['the creator', as(ALICE), /alice created version v1/],
    ['the submitter', as(DANA), /dana submitted version v1/],
    ['an uploader', as(CAROL), /carol uploaded files into version v1/],
    ['a service token', SERVICE, /only a signed-in user can approve/],
  ])('approve by %s answers 403', async (_who, auth, message) => {
    const model = await submitted();
    const res = await decide(model, auth, 'approve').expect(403);
    expect(res.body.error.message).toMatch(message);
    expect((await h.version(model, 'v1')).state).toBe('in_review');
  });

  it.each([
    ['an admin who took no part', as(ADMIN)],
    ['another reviewer', as(BOB)],
  ])('approve by %s answers 200', async (_who, auth) => {
    const model = await submitted();
    await decide(model, auth, 'approve').expect(200);
    const version = await h.version(model, 'v1');
    expect(version.state).toBe('approved');
    expect(version.approvedDigest).toBe(version.contentDigest);
  });

  it('a service principal can never reject, request changes, revoke or waive', async () => {
    const model = await submitted();
    for (const action of ['reject', 'request_changes']) {
      const res = await decide(model, SERVICE, action).expect(403);
      expect(res.body.error.message).toMatch(/only a signed-in user can/);
    }
    await decide(model, as(BOB), 'approve').expect(200);
    const revoke = await decide(model, SERVICE, 'revoke').expect(403);
    expect(revoke.body.error.message).toMatch(
      /only a signed-in user can revoke/,
    );
    expect((await h.version(model, 'v1')).state).toBe('approved');

    const other = `sod-${++n}`;
    await h.createModel(other);
    await h.createVersion(other, 'v1');
    const waive = await request(h.app)
      .post(`${h.versionPath(other, 'v1')}/checks/manual-review/waiver`)
      .set('Authorization', SERVICE)
      .send({ reason: 'automation' })
      .expect(403);
    expect(waive.body.error.message).toMatch(/only a signed-in user can waive/);
  });

  it('an uploader of a file that was deleted again still cannot approve', async () => {
    const model = `sod-${++n}`;
    await h.createModel(model);
    await h.createVersion(model, 'v1');
    await h.put(model, 'v1', 'gone.txt', Buffer.from('g'), BOB).expect(201);
    await request(h.app)
      .delete(`${h.versionPath(model, 'v1')}/files/gone.txt`)
      .set('Authorization', as(ALICE))
      .expect(204);
    await request(h.app)
      .post(`${h.versionPath(model, 'v1')}/checks/manual-review/waiver`)
      .set('Authorization', as(ADMIN))
      .send({ reason: 'no weights' })
      .expect(201);
    await h.transition(model, 'v1', ALICE, 'submit').expect(200);
    const res = await decide(model, as(BOB), 'approve').expect(403);
    expect(res.body.error.message).toMatch(/bob uploaded files into/);
    await decide(model, as(CAROL), 'approve').expect(200);
  });

  it('a waiver is bound to the content digest and lapses when the files change', async () => {
    const model = `sod-${++n}`;
    await h.createModel(model);
    await h.createVersion(model, 'v1');
    await h.put(model, 'v1', 'a.txt', Buffer.from('a')).expect(201);
    const waiverUrl = `${h.versionPath(
      model,
      'v1',
    )}/checks/manual-review/waiver`;
    const waived = await request(h.app)
      .post(waiverUrl)
      .set('Authorization', as(ADMIN))
      .send({ reason: 'text only' })
      .expect(201);
    const before = await h.version(model, 'v1');
    expect(waived.body).toMatchObject({
      contentDigest: before.contentDigest,
      lapsed: false,
    });
    // a second waiver of the same content is a conflict
    await request(h.app)
      .post(waiverUrl)
      .set('Authorization', as(ADMIN))
      .send({ reason: 'again' })
      .expect(409);

    // new content: the waiver lapses and the submission is blocked again
    await h.put(model, 'v1', 'b.txt', Buffer.from('b')).expect(201);
    const review = await request(h.app)
      .get(`${h.versionPath(model, 'v1')}/review`)
      .set('Authorization', as(ALICE))
      .expect(200);
    expect(JSON.stringify(review.body)).toMatch(/"lapsed":true/);
    const blocked = await h
      .transition(model, 'v1', ALICE, 'submit')
      .expect(409);
    expect(blocked.body.error.message).toMatch(
      /required checks have not passed: manual-review/,
    );

    // a waiver of the new content replaces the lapsed one
    const again = await request(h.app)
      .post(waiverUrl)
      .set('Authorization', as(ADMIN))
      .send({ reason: 'text only, still' })
      .expect(201);
    const after = await h.version(model, 'v1');
    expect(again.body.contentDigest).toBe(after.contentDigest);
    expect(after.contentDigest).not.toBe(before.contentDigest);
    await h.transition(model, 'v1', ALICE, 'submit').expect(200);
    const submissions = await h.approvalsStore.listSubmissions({
      versionId: after.id,
    });
    expect(submissions.map(s => s.contentDigest)).toEqual([
      after.contentDigest,
    ]);
    await decide(model, as(BOB), 'approve').expect(200);
    const decisions = await h.approvalsStore.listDecisions({
      versionId: after.id,
    });
    expect(decisions).toEqual([
      expect.objectContaining({
        decision: 'approve',
        reviewer: BOB,
        contentDigest: after.contentDigest,
      }),
    ]);
  });
});
