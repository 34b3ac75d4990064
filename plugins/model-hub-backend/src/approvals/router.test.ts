import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { VERSION_STATES, VersionState } from '../database/types';
import { inspectFile } from '../inspection/inspectFile';
import { bufferSource } from '../inspection/source';
import { DEFAULT_INSPECTION_LIMITS } from '../inspection/types';
import { VersionChecksStore } from '../inspection/VersionChecksStore';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { ApprovalsService } from './ApprovalsService';
import { readApprovalsConfig } from './config';
import { DatabaseApprovalsStore } from './DatabaseApprovalsStore';
import { TRANSITION_ACTIONS, TRANSITIONS } from './transitions';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

const ALICE = 'user:default/alice'; // engineer, member of the owner group
const BOB = 'user:default/bob'; // reviewer
const ERIN = 'user:default/erin'; // reviewer
const CAROL = 'user:default/carol'; // reads and downloads only
const DANA = 'user:default/dana'; // admin
const OWNER = 'group:default/ml-engineers';
const REVIEWERS = 'group:default/ml-reviewers';

const groups: Record<string, string[]> = {
  [ALICE]: [OWNER],
  [BOB]: [REVIEWERS],
  [ERIN]: [REVIEWERS],
};

const grants: Record<string, string[]> = {
  [ALICE]: [
    'model-hub.model.create',
    'model-hub.version.create',
    'model-hub.artifact.upload',
    'model-hub.artifact.download',
  ],
  [BOB]: [
    'model-hub.version.review',
    'model-hub.version.approve',
    'model-hub.artifact.download',
  ],
  [ERIN]: [
    'model-hub.version.review',
    'model-hub.version.approve',
    'model-hub.artifact.download',
  ],
  [CAROL]: ['model-hub.artifact.download'],
};

const as = (user: string) => mockCredentials.user.header(user);

async function setup(databaseId: TestDatabaseId, approvalsConfig: object = {}) {
  const knex = await databases.init(databaseId);
  const database = mockServices.database({ knex, migrations: { skip: false } });
  const store = await DatabaseModelHubStore.create({ database });
  const approvalsStore = await DatabaseApprovalsStore.create({
    database,
    skipMigrations: true,
  });
  const send = jest.fn(async () => {});
  const approvals = new ApprovalsService({
    store: approvalsStore,
    hubStore: store,
    config: readApprovalsConfig(
      new ConfigReader({
        modelHub: {
          approvals: {
            reviewerGroups: ['ml-reviewers'],
            // the workflow tests need no inspection checks; the default
            // policy's are tested with { requiredChecks: undefined }
            requiredChecks: [],
            ...approvalsConfig,
          },
        },
      }),
    ),
    logger: mockServices.logger.mock(),
    notifications: { send },
  });
  const authorize = jest.fn(async (requests: any[], options: any) => {
    const user = options.credentials.principal.userEntityRef;
    return requests.map(r => ({
      result:
        user === DANA ||
        // everyone signed in reads models (model-hub.model.read, catalog.entity.read)
        r.permission.name.endsWith('.read') ||
        grants[user]?.includes(r.permission.name)
          ? AuthorizeResult.ALLOW
          : AuthorizeResult.DENY,
    }));
  });
  const auditor = mockServices.auditor.mock({
    createEvent: jest.fn(async () => ({
      success: jest.fn(async () => {}),
      fail: jest.fn(async () => {}),
    })),
  });
  const router = await createRouter({
    store,
    approvals,
    artifacts: await LocalArtifactStore.create({
      path: join(mockDir.path, String(Math.random())),
    }),
    auth: mockServices.auth(),
    httpAuth: mockServices.httpAuth({
      defaultCredentials: mockCredentials.user(ALICE),
    }),
    userInfo: {
      getUserInfo: async (credentials: any) => ({
        userEntityRef: credentials.principal.userEntityRef,
        ownershipEntityRefs: [
          credentials.principal.userEntityRef,
          ...(groups[credentials.principal.userEntityRef] ?? []),
        ],
      }),
    },
    permissions: mockServices.permissions.mock({
      authorize: authorize as any,
      // a policy without conditions: the same answers without a resource
      authorizeConditional: authorize as any,
    }),
    auditor,
    catalog: catalogServiceMock({ entities: [] }),
    logger: mockServices.logger.mock(),
    maxUploadBytes: 1000,
    gcGracePeriodMs: 0,
  });
  const app = express().use(router).use(mockErrorHandler());

  const createModel = async (body: object = {}) =>
    request(app)
      .post('/models')
      .set('Authorization', as(ALICE))
      .send({ name: 'llama', type: 'llm', owner: 'ml-engineers', ...body })
      .expect(201);
  const createVersion = async (label: string, model = 'llama') =>
    request(app)
      .post(`/models/default/${model}/versions`)
      .set('Authorization', as(ALICE))
      .send({ label })
      .expect(201);
  const upload = async (label: string, path: string, content: string) =>
    request(app)
      .put(`/models/default/llama/versions/${label}/files/${path}`)
      .set('Authorization', as(ALICE))
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from(content))
      .expect(201);
  const transition = (
    label: string,
    user: string,
    action: string,
    extra: object = {},
  ) =>
    request(app)
      .post(`/models/default/llama/versions/${label}/transitions`)
      .set('Authorization', as(user))
      .send({ action, ...extra });
  /** Submits as alice and approves as bob. */
  const approve = async (label: string) => {
    await transition(label, ALICE, 'submit').expect(200);
    await transition(label, BOB, 'approve').expect(200);
  };
  const setState = (label: string, state: VersionState) =>
    knex('model_versions').where({ label }).update({ state });

  return {
    app,
    knex,
    store,
    approvals,
    approvalsStore,
    send,
    auditor,
    createModel,
    createVersion,
    upload,
    transition,
    approve,
    setState,
  };
}

const auditCalls = (auditor: any) =>
  auditor.createEvent.mock.calls.map((c: any[]) => ({
    eventId: c[0].eventId,
    meta: c[0].meta,
  }));

describe.each(databases.eachSupportedId())('approvals (%s)', databaseId => {
  describe('lifecycle', () => {
    const actorOf = (action: string) => (action === 'submit' ? ALICE : BOB);
    const commentOf = (action: string) =>
      TRANSITIONS[action as keyof typeof TRANSITIONS].commentRequired
        ? { comment: 'because' }
        : {};

    it('allows exactly the transitions of the lifecycle and answers 409 for the others', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      const outcomes: {
        label: string;
        state: VersionState;
        action: string;
        status: number;
        body: any;
        after: { state: string; revision: number };
      }[] = [];
      for (const action of TRANSITION_ACTIONS) {
        for (const state of VERSION_STATES) {
          const label = `${action}-${state}`.replace(/_/g, '-');
          await t.createVersion(label);
          await t.setState(label, state);
          const res = await t.transition(
            label,
            actorOf(action),
            action,
            commentOf(action),
          );
          const row = await t.knex('model_versions').where({ label }).first();
          outcomes.push({
            label,
            state,
            action,
            status: res.status,
            body: res.body,
            after: { state: row.state, revision: Number(row.revision) },
          });
        }
      }
      const allowed = outcomes.filter(o =>
        TRANSITIONS[o.action as keyof typeof TRANSITIONS].from.includes(
          o.state,
        ),
      );
      const forbidden = outcomes.filter(o => !allowed.includes(o));
      expect(outcomes).toHaveLength(49);
      // every allowed transition moves the version and bumps its revision
      expect(
        allowed.map(o => ({ status: o.status, body: o.body, after: o.after })),
      ).toEqual(
        allowed.map(o => {
          const to = TRANSITIONS[o.action as keyof typeof TRANSITIONS].to;
          return {
            status: 200,
            body: expect.objectContaining({
              from: o.state,
              to,
              version: expect.objectContaining({
                label: o.label,
                state: to,
                revision: 1,
              }),
            }),
            after: { state: to, revision: 1 },
          };
        }),
      );
      // every forbidden one answers 409 and changes nothing
      expect(
        forbidden.map(o => ({
          status: o.status,
          name: o.body.error?.name,
          message: o.body.error?.message,
          after: o.after,
        })),
      ).toEqual(
        forbidden.map(o => ({
          status: 409,
          name: 'ConflictError',
          message: expect.stringContaining(`it is ${o.state}`),
          after: { state: o.state, revision: 0 },
        })),
      );
      const seen = allowed.map(
        o =>
          `${o.state} -${o.action}-> ${
            TRANSITIONS[o.action as keyof typeof TRANSITIONS].to
          }`,
      );
      expect(seen.sort()).toEqual(
        [
          'draft -submit-> in_review',
          'changes_requested -submit-> in_review',
          'in_review -approve-> approved',
          'in_review -request_changes-> changes_requested',
          'in_review -reject-> rejected',
          'approved -deprecate-> deprecated',
          'deprecated -archive-> archived',
          'approved -revoke-> rejected',
          'deprecated -revoke-> rejected',
        ].sort(),
      );
    });

    it('checks permissions, reasons, input and revisions', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      // submit needs version.create; approve needs version.approve
      await t.transition('v1', BOB, 'submit').expect(403);
      await t.transition('v1', CAROL, 'submit').expect(403);
      await t.transition('v1', ALICE, 'submit', { revision: 7 }).expect(409);
      await t.transition('v1', ALICE, 'submit', { revision: 0 }).expect(200);
      await t.transition('v1', ALICE, 'approve').expect(403);
      await t.transition('v1', CAROL, 'reject', { comment: 'x' }).expect(403);
      const noReason = await t.transition('v1', BOB, 'reject').expect(400);
      expect(noReason.body.error.message).toMatch(/reason is required/);
      const bad = await t.transition('v1', BOB, 'publish').expect(400);
      expect(bad.body.error.message).toMatch(/action/);
      await t.transition('v1', BOB, 'approve', { extra: true }).expect(400);
      await request(t.app)
        .post('/models/default/llama/versions/v9/transitions')
        .set('Authorization', as(BOB))
        .send({ action: 'approve' })
        .expect(404);
      const row = await t.knex('model_versions').where({ label: 'v1' }).first();
      expect(row).toMatchObject({ state: 'in_review' });
      expect(Number(row.revision)).toBe(1);
    });

    it('keeps the submitter and the creator from approving (separation of duties)', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      await t.transition('v1', ALICE, 'submit').expect(200);
      // alice holds version.approve here, but she submitted and created v1
      grants[ALICE].push('model-hub.version.approve');
      try {
        const res = await t.transition('v1', ALICE, 'approve').expect(403);
        expect(res.body.error.message).toMatch(
          /Separation of duties: user:default\/alice submitted version v1/,
        );
        // a version bob created and alice submitted: bob may not approve either
        const other = await request(t.app)
          .post('/models/default/llama/versions')
          .set('Authorization', as(DANA))
          .send({ label: 'v2' })
          .expect(201);
        expect(other.body.createdBy).toBe(DANA);
        await t.transition('v2', ALICE, 'submit').expect(200);
        const creator = await t.transition('v2', DANA, 'approve').expect(403);
        expect(creator.body.error.message).toMatch(/created version v2/);
        await t.transition('v2', BOB, 'approve').expect(200);
      } finally {
        grants[ALICE].pop();
      }
      expect(
        (await t.knex('version_reviews').where({ decision: 'approve' })).map(
          r => r.reviewer,
        ),
      ).toEqual([BOB]);
    });

    it('allows self-approval when separation of duties is off', async () => {
      const t = await setup(databaseId, { separationOfDuties: false });
      await t.createModel();
      await request(t.app)
        .post('/models/default/llama/versions')
        .set('Authorization', as(DANA))
        .send({ label: 'v1' })
        .expect(201);
      await t.transition('v1', DANA, 'submit').expect(200);
      const res = await t.transition('v1', DANA, 'approve').expect(200);
      expect(res.body.version).toMatchObject({
        state: 'approved',
        createdBy: DANA,
      });
    });

    it('lets exactly one of two racing reviewers win', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      await t.transition('v1', ALICE, 'submit').expect(200);
      const results = await Promise.all([
        t.transition('v1', BOB, 'approve'),
        t.transition('v1', ERIN, 'reject', { comment: 'no' }),
      ]);
      expect(results.map(r => r.status).sort()).toEqual([200, 409]);
      const winner = results.find(r => r.status === 200)!;
      const loser = results.find(r => r.status === 409)!;
      expect(loser.body.error.name).toBe('ConflictError');
      const row = await t.knex('model_versions').where({ label: 'v1' }).first();
      expect(row.state).toBe(winner.body.to);
      expect(Number(row.revision)).toBe(2);
      expect(await t.knex('version_reviews')).toHaveLength(1);

      // and two approvals racing on a fresh version
      await t.createVersion('v2');
      await t.transition('v2', ALICE, 'submit').expect(200);
      const approvals = await Promise.all([
        t.transition('v2', BOB, 'approve'),
        t.transition('v2', ERIN, 'approve'),
      ]);
      expect(approvals.map(r => r.status).sort()).toEqual([200, 409]);
      const v2 = await t.knex('model_versions').where({ label: 'v2' }).first();
      expect(v2.state).toBe('approved');
      expect(Number(v2.revision)).toBe(2);
    });

    it('rejects a decision on a revision the reviewer did not see', async () => {
      const t = await setup(databaseId, { requiredApprovals: 2 });
      await t.createModel();
      await t.createVersion('v1');
      const submitted = await t.transition('v1', ALICE, 'submit').expect(200);
      const seen = submitted.body.version.revision;
      // both reviewers saw revision 1; whoever comes second must reload
      const results = await Promise.all([
        t.transition('v1', BOB, 'approve', { revision: seen }),
        t.transition('v1', ERIN, 'approve', { revision: seen }),
      ]);
      expect(results.map(r => r.status).sort()).toEqual([200, 409]);
      expect(results.find(r => r.status === 409)!.body.error.message).toMatch(
        /revision|concurrently/,
      );
      const row = await t.knex('model_versions').where({ label: 'v1' }).first();
      expect(row.state).toBe('in_review');
      expect(Number(row.revision)).toBe(seen + 1);
      expect(await t.knex('version_reviews')).toHaveLength(1);
    });

    it('needs the configured number of approvals, with overrides per type and lifecycle', async () => {
      const t = await setup(databaseId, {
        overrides: [
          { type: 'llm', lifecycle: 'production', requiredApprovals: 2 },
        ],
      });
      await t.createModel({ lifecycle: 'production' });
      await t.createVersion('v1');
      await t.transition('v1', ALICE, 'submit').expect(200);
      const first = await t.transition('v1', BOB, 'approve').expect(200);
      expect(first.body).toMatchObject({
        from: 'in_review',
        to: 'in_review',
        approvals: { count: 1, required: 2, reviewers: [BOB] },
      });
      const again = await t.transition('v1', BOB, 'approve').expect(409);
      expect(again.body.error.message).toMatch(/already approved/);
      const second = await t.transition('v1', ERIN, 'approve').expect(200);
      expect(second.body).toMatchObject({
        to: 'approved',
        approvals: { count: 2, required: 2, reviewers: [BOB, ERIN] },
      });
      // only one notification: when the version became approved
      expect(t.send.mock.calls.map((c: any[]) => c[0].payload.title)).toEqual([
        'Review requested: llama v1',
        'Approved: llama v1',
      ]);
    });

    it('starts a new review round on resubmission', async () => {
      const t = await setup(databaseId, { requiredApprovals: 2 });
      await t.createModel();
      await t.createVersion('v1');
      await t.transition('v1', ALICE, 'submit').expect(200);
      await t.transition('v1', BOB, 'approve').expect(200);
      await t
        .transition('v1', ERIN, 'request_changes', { comment: 'fix it' })
        .expect(200);
      const resubmit = await t
        .transition('v1', ALICE, 'submit', { comment: 'fixed' })
        .expect(200);
      expect(resubmit.body).toMatchObject({ round: 2, to: 'in_review' });
      // bob's approval of round 1 does not count
      const again = await t.transition('v1', BOB, 'approve').expect(200);
      expect(again.body).toMatchObject({
        round: 2,
        to: 'in_review',
        approvals: { count: 1 },
      });
    });
  });

  describe('notifications and audit', () => {
    it('notifies owners and reviewer groups and audits every decision', async () => {
      const t = await setup(databaseId);
      await t.createModel({ title: 'Llama' });
      await t.createVersion('v1');
      t.auditor.createEvent.mockClear();
      await t
        .transition('v1', ALICE, 'submit', { comment: 'please' })
        .expect(200);
      await t
        .transition('v1', BOB, 'request_changes', { comment: 'add a card' })
        .expect(200);
      await t.transition('v1', ALICE, 'submit').expect(200);
      await t.transition('v1', ERIN, 'approve').expect(200);
      await t.createVersion('v2');
      await t.transition('v2', ALICE, 'submit').expect(200);
      await t.transition('v2', BOB, 'reject', { comment: 'bad' }).expect(200);
      await t.transition('v1', BOB, 'deprecate').expect(200);
      await t.transition('v1', BOB, 'revoke', { comment: 'leak' }).expect(200);

      const recipients = (actor: string) => ({
        type: 'entity',
        entityRef: [OWNER, REVIEWERS],
        excludeEntityRef: actor,
      });
      const payload = (
        title: string,
        description: string,
        severity: string,
        label: string,
      ) => ({
        title,
        description,
        link: '/catalog/default/model/llama',
        topic: 'model-hub:approvals',
        severity,
        scope: `model:default/llama@${label}`,
      });
      expect(t.send.mock.calls.map((c: any[]) => c[0])).toEqual([
        {
          recipients: recipients(ALICE),
          payload: payload(
            'Review requested: Llama v1',
            'user:default/alice submitted version v1 of model:default/llama for review: please',
            'normal',
            'v1',
          ),
        },
        {
          recipients: recipients(BOB),
          payload: payload(
            'Changes requested: Llama v1',
            'user:default/bob requested changes to version v1 of model:default/llama: add a card',
            'normal',
            'v1',
          ),
        },
        {
          recipients: recipients(ALICE),
          payload: payload(
            'Review requested: Llama v1',
            'user:default/alice submitted version v1 of model:default/llama for review',
            'normal',
            'v1',
          ),
        },
        {
          recipients: recipients(ERIN),
          payload: payload(
            'Approved: Llama v1',
            'user:default/erin approved version v1 of model:default/llama',
            'normal',
            'v1',
          ),
        },
        {
          recipients: recipients(ALICE),
          payload: payload(
            'Review requested: Llama v2',
            'user:default/alice submitted version v2 of model:default/llama for review',
            'normal',
            'v2',
          ),
        },
        {
          recipients: recipients(BOB),
          payload: payload(
            'Rejected: Llama v2',
            'user:default/bob rejected version v2 of model:default/llama: bad',
            'high',
            'v2',
          ),
        },
        {
          recipients: recipients(BOB),
          payload: payload(
            'Approval revoked: Llama v1',
            'user:default/bob revoked the approval of version v1 of model:default/llama: leak',
            'high',
            'v1',
          ),
        },
      ]);

      const calls = auditCalls(t.auditor).filter(
        (c: any) => c.eventId !== 'version-create',
      );
      const meta = (label: string, action: string, comment?: string) => ({
        modelRef: 'model:default/llama',
        versionLabel: label,
        action,
        ...(comment ? { comment } : {}),
      });
      expect(calls).toEqual([
        { eventId: 'version-submit', meta: meta('v1', 'submit', 'please') },
        {
          eventId: 'version-request-changes',
          meta: meta('v1', 'request_changes', 'add a card'),
        },
        { eventId: 'version-submit', meta: meta('v1', 'submit') },
        { eventId: 'version-approve', meta: meta('v1', 'approve') },
        { eventId: 'version-submit', meta: meta('v2', 'submit') },
        { eventId: 'version-reject', meta: meta('v2', 'reject', 'bad') },
        { eventId: 'version-deprecate', meta: meta('v1', 'deprecate') },
        { eventId: 'version-revoke', meta: meta('v1', 'revoke', 'leak') },
      ]);
      const revoke = t.auditor.createEvent.mock.calls.find(
        (c: any[]) => c[0].eventId === 'version-revoke',
      );
      expect(revoke![0].severityLevel).toBe('high');
      const results = await Promise.all(
        t.auditor.createEvent.mock.results.map((r: any) => r.value),
      );
      const approveIndex = t.auditor.createEvent.mock.calls.findIndex(
        (c: any[]) => c[0].eventId === 'version-approve',
      );
      expect(results[approveIndex].success).toHaveBeenCalledWith({
        meta: {
          from: 'in_review',
          to: 'approved',
          round: 2,
          approvals: [ERIN],
          revision: 4,
        },
      });

      // failures are audited too
      t.auditor.createEvent.mockClear();
      await t.transition('v1', BOB, 'approve').expect(409);
      const failed = await t.auditor.createEvent.mock.results[0].value;
      expect(failed.fail).toHaveBeenCalledTimes(1);
      expect(failed.success).not.toHaveBeenCalled();

      // the history timeline comes from the audit trail
      const history = await request(t.app)
        .get('/models/default/llama/versions/v1/history')
        .expect(200);
      expect(history.body.items.map((e: any) => [e.eventId, e.actor])).toEqual([
        ['version-create', ALICE],
        ['version-submit', ALICE],
        ['version-request-changes', BOB],
        ['version-submit', ALICE],
        ['version-approve', ERIN],
        ['version-deprecate', BOB],
        ['version-revoke', BOB],
      ]);
    });

    it('keeps a transition when the notification service fails', async () => {
      const t = await setup(databaseId);
      t.send.mockRejectedValueOnce(new Error('down'));
      await t.createModel();
      await t.createVersion('v1');
      await t.transition('v1', ALICE, 'submit').expect(200);
      expect(t.send).toHaveBeenCalledTimes(1);
    });

    it('commits a transition and its audit trail row together, or neither', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      const trail = () =>
        t
          .knex('audit_events')
          .where({ version_label: 'v1', event_id: 'version-submit' })
          .select('actor', 'meta');
      // the trail cannot be written (a failing database): the transition
      // is answered with an error and the version has not moved
      if (t.knex.client.config.client === 'pg') {
        await t.knex.raw(
          `CREATE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit trail down'; END $$ LANGUAGE plpgsql`,
        );
        await t.knex.raw(
          'CREATE TRIGGER audit_down BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_down()',
        );
      } else {
        await t.knex.raw(
          "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit trail down'); END",
        );
      }
      await t.transition('v1', ALICE, 'submit').expect(500);
      const before = await t.knex('model_versions').where({ label: 'v1' });
      expect(before[0].state).toBe('draft');
      expect(await t.knex('version_submissions')).toHaveLength(0);
      expect(await trail()).toHaveLength(0);

      const on = t.knex.client.config.client === 'pg' ? ' ON audit_events' : '';
      await t.knex.raw(`DROP TRIGGER audit_down${on}`);
      const res = await t.transition('v1', ALICE, 'submit').expect(200);
      const rows = await trail();
      expect(rows).toHaveLength(1);
      const meta =
        typeof rows[0].meta === 'string'
          ? JSON.parse(rows[0].meta)
          : rows[0].meta;
      expect(rows[0].actor).toBe(ALICE);
      expect(meta).toMatchObject({
        action: 'submit',
        from: 'draft',
        to: 'in_review',
        round: 1,
        revision: res.body.version.revision,
      });
    });
  });

  describe('review data', () => {
    it('requires the format and safety checks by default: an unverified pickle blocks submission until an admin waives it', async () => {
      const t = await setup(databaseId, { requiredChecks: undefined });
      await t.createModel();
      await t.createVersion('v1');
      const [v1] = await t.knex('model_versions').where({ label: 'v1' });
      const missing = await t.transition('v1', ALICE, 'submit').expect(409);
      expect(missing.body.error.message).toMatch(
        /model-hub\.format \(missing\), model-hub\.safety \(missing\)/,
      );
      // what the inspection records for a protocol-0 pickle led by NONE
      const checks = new VersionChecksStore(t.knex);
      await checks.write(
        v1.id,
        await inspectFile(
          'e.pkl',
          bufferSource(Buffer.from("N0cos\nsystem\n(S'id'\ntR.", 'latin1')),
          DEFAULT_INSPECTION_LIMITS,
        ),
      );
      const failed = await t.transition('v1', ALICE, 'submit').expect(409);
      expect(failed.body.error.message).toMatch(
        /required checks have not passed: model-hub\.safety \(failed\)/,
      );
      await request(t.app)
        .post(
          '/models/default/llama/versions/v1/checks/model-hub.safety/waiver',
        )
        .set('Authorization', as(DANA))
        .send({ reason: 'the test suite ships this pickle on purpose' })
        .expect(201);
      await t.transition('v1', ALICE, 'submit').expect(200);
    });

    it('gates submission on required checks, waivable by admins with a reason', async () => {
      const t = await setup(databaseId, { requiredChecks: ['license-scan'] });
      await t.createModel();
      await t.createVersion('v1');
      const [v1] = await t.knex('model_versions').where({ label: 'v1' });
      await t.approvalsStore.recordCheck({
        versionId: v1.id,
        name: 'malware-scan',
        status: 'failed',
        required: true,
        summary: '1 finding',
      });
      const blocked = await t.transition('v1', ALICE, 'submit').expect(409);
      expect(blocked.body.error.message).toBe(
        'Version v1 cannot be submitted: required checks have not passed: license-scan (missing), malware-scan (failed); they must pass or be waived by an admin',
      );
      await t.approvalsStore.recordCheck({
        versionId: v1.id,
        name: 'license-scan',
        status: 'passed',
      });
      const waiver =
        '/models/default/llama/versions/v1/checks/malware-scan/waiver';
      await request(t.app)
        .post(waiver)
        .set('Authorization', as(BOB))
        .send({ reason: 'false positive' })
        .expect(403);
      const empty = await request(t.app)
        .post(waiver)
        .set('Authorization', as(DANA))
        .send({ reason: '  ' })
        .expect(400);
      expect(empty.body.error.message).toMatch(/reason/);
      await request(t.app)
        .post('/models/default/llama/versions/v1/checks/bad name/waiver')
        .set('Authorization', as(DANA))
        .send({ reason: 'x' })
        .expect(400);
      const created = await request(t.app)
        .post(waiver)
        .set('Authorization', as(DANA))
        .send({ reason: 'false positive' })
        .expect(201);
      expect(created.body).toMatchObject({
        checkName: 'malware-scan',
        reason: 'false positive',
        waivedBy: DANA,
      });
      await request(t.app)
        .post(waiver)
        .set('Authorization', as(DANA))
        .send({ reason: 'again' })
        .expect(409);
      expect(
        auditCalls(t.auditor).filter((c: any) => c.eventId === 'check-waive'),
      ).toHaveLength(3);
      await t.transition('v1', ALICE, 'submit').expect(200);

      const review = await request(t.app)
        .get('/models/default/llama/versions/v1/review')
        .expect(200);
      expect(review.body).toMatchObject({
        version: { label: 'v1', state: 'in_review' },
        policy: {
          requiredApprovals: 1,
          reviewerGroups: [REVIEWERS],
          separationOfDuties: true,
          requiredChecks: ['license-scan'],
        },
        round: 1,
        submission: { round: 1, submittedBy: ALICE },
        approvals: { count: 0, required: 1, reviewers: [] },
        checks: {
          items: [
            { name: 'license-scan', status: 'passed', required: false },
            {
              name: 'malware-scan',
              status: 'failed',
              required: true,
              summary: '1 finding',
            },
          ],
          waivers: [{ checkName: 'malware-scan', waivedBy: DANA }],
          blocking: [],
        },
      });
      // approved versions cannot be waived any more
      await t.transition('v1', BOB, 'approve').expect(200);
      await request(t.app)
        .post('/models/default/llama/versions/v1/checks/other/waiver')
        .set('Authorization', as(DANA))
        .send({ reason: 'x' })
        .expect(409);
    });

    it('keeps threaded comments from reviewers and owners', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      const url = '/models/default/llama/versions/v1/comments';
      const question = await request(t.app)
        .post(url)
        .set('Authorization', as(BOB))
        .send({ body: 'Which dataset?' })
        .expect(201);
      const answer = await request(t.app)
        .post(url)
        .set('Authorization', as(ALICE))
        .send({ body: 'C4', parentId: question.body.id })
        .expect(201);
      await request(t.app)
        .post(url)
        .set('Authorization', as(CAROL))
        .send({ body: 'me too' })
        .expect(403);
      await request(t.app)
        .post(url)
        .set('Authorization', as(BOB))
        .send({ body: '' })
        .expect(400);
      await request(t.app)
        .post(url)
        .set('Authorization', as(BOB))
        .send({ body: 'x', parentId: '00000000-0000-4000-8000-000000000000' })
        .expect(400);
      const list = await request(t.app).get(url).expect(200);
      expect(list.body.items).toEqual([
        {
          id: question.body.id,
          author: BOB,
          body: 'Which dataset?',
          createdAt: expect.any(String),
          replies: [
            {
              id: answer.body.id,
              parentId: question.body.id,
              author: ALICE,
              body: 'C4',
              createdAt: expect.any(String),
              replies: [],
            },
          ],
        },
      ]);
    });

    it('diffs against the previous approved version', async () => {
      const t = await setup(databaseId);
      await t.createModel({ license: 'apache-2.0' });
      await t.createVersion('v1');
      await t.upload('v1', 'config.json', '{"a":1}');
      await t.upload('v1', 'model.bin', 'weights-1');
      await t.upload('v1', 'README.md', 'readme');
      await t.approve('v1');
      await t.createVersion('v2');
      await t.upload('v2', 'config.json', '{"a":1}');
      await t.upload('v2', 'model.bin', 'weights-2!');
      await t.upload('v2', 'tokenizer.json', '{}');
      const diff = await request(t.app)
        .get('/models/default/llama/versions/v2/diff')
        .expect(200);
      expect(diff.body).toMatchObject({
        base: { label: 'v1', state: 'approved' },
        files: {
          added: [{ path: 'tokenizer.json', size: 2 }],
          removed: [{ path: 'README.md', size: 6 }],
          changed: [
            {
              path: 'model.bin',
              from: { size: 9 },
              to: { size: 10 },
            },
          ],
          unchanged: 1,
        },
        totalSize: { from: 22, to: 19, changed: true },
        license: { from: 'apache-2.0', to: 'apache-2.0', changed: false },
        parameters: { changed: false },
      });
      // the first version has no base: everything is added
      const first = await request(t.app)
        .get('/models/default/llama/versions/v1/diff')
        .expect(200);
      expect(first.body.base).toBeUndefined();
      expect(first.body.files.added).toHaveLength(3);
      const explicit = await request(t.app)
        .get('/models/default/llama/versions/v1/diff?against=v2')
        .expect(200);
      expect(explicit.body.base.label).toBe('v2');
      await request(t.app)
        .get('/models/default/llama/versions/v1/diff?against=v9')
        .expect(404);
    });

    it('lists the review queue', async () => {
      const t = await setup(databaseId, { requiredApprovals: 2 });
      await t.createModel();
      await t.createVersion('v1');
      await t.createVersion('v2');
      await t.transition('v1', ALICE, 'submit').expect(200);
      await t.transition('v1', BOB, 'approve').expect(200);
      const queue = await request(t.app).get('/reviews').expect(200);
      expect(queue.body).toEqual({
        items: [
          {
            modelRef: 'model:default/llama',
            owner: OWNER,
            type: 'llm',
            lifecycle: 'experimental',
            label: 'v1',
            revision: 2,
            createdBy: ALICE,
            round: 1,
            submittedBy: ALICE,
            submittedAt: expect.any(String),
            approvals: [BOB],
          },
        ],
        totalCount: 1,
        offset: 0,
        limit: 20,
      });
      const none = await request(t.app)
        .get('/reviews?model=model:default/other')
        .expect(200);
      expect(none.body.totalCount).toBe(0);
      await request(t.app).get('/reviews?limit=500').expect(400);
    });
  });

  describe('active version', () => {
    it('promotes approved versions and rolls back to the previous one', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      for (const label of ['v1', 'v2', 'v3']) {
        await t.createVersion(label);
      }
      await t.approve('v1');
      await t.approve('v2');
      const detail = async () =>
        (await request(t.app).get('/models/default/llama').expect(200)).body
          .activeVersion;
      expect(await detail()).toBeNull();

      const promote = (label: string, extra: object = {}, user = ALICE) =>
        request(t.app)
          .post('/models/default/llama/active')
          .set('Authorization', as(user))
          .send({ label, ...extra });
      await promote('v3').expect(409); // a draft
      await promote('v1', {}, CAROL).expect(403);
      await promote('v1', { expectedActive: 'v2' }).expect(409);
      await promote('v1', { expectedActive: null }).expect(200);
      expect(await detail()).toMatchObject({
        label: 'v1',
        state: 'approved',
        promotedBy: ALICE,
      });
      await promote('v1').expect(409); // already active
      await promote('v2', { expectedActive: 'v1' }).expect(200);
      expect(await detail()).toMatchObject({ label: 'v2' });

      const rollback = await request(t.app)
        .post('/models/default/llama/active/rollback')
        .set('Authorization', as(ALICE))
        .send({})
        .expect(200);
      expect(rollback.body).toMatchObject({ label: 'v1', state: 'approved' });
      expect(await detail()).toMatchObject({ label: 'v1', state: 'approved' });
      // to a named version; not to a draft
      await request(t.app)
        .post('/models/default/llama/active/rollback')
        .set('Authorization', as(ALICE))
        .send({ label: 'v3' })
        .expect(409);
      // someone changed the active version since the caller looked: 409
      const stale = await request(t.app)
        .post('/models/default/llama/active/rollback')
        .set('Authorization', as(ALICE))
        .send({ label: 'v2', expectedActive: 'v2' });
      expect([stale.status, stale.body.error.message]).toEqual([
        409,
        'The active version of model:default/llama is v1, not v2; reload and try again',
      ]);
      await request(t.app)
        .post('/models/default/llama/active/rollback')
        .set('Authorization', as(ALICE))
        .send({ label: 'v2', expectedActive: 'v1' })
        .expect(200);

      const active = await request(t.app)
        .get('/models/default/llama/active')
        .expect(200);
      expect(active.body.active).toMatchObject({ label: 'v2' });
      expect(active.body.history.map((h: any) => [h.action, h.label])).toEqual([
        ['rollback', 'v2'],
        ['rollback', 'v1'],
        ['promote', 'v2'],
        ['promote', 'v1'],
      ]);

      // deprecating keeps it active (showing its state); revoking removes it
      await t.transition('v2', BOB, 'deprecate').expect(200);
      expect(await detail()).toMatchObject({
        label: 'v2',
        state: 'deprecated',
      });
      await t.transition('v2', BOB, 'revoke', { comment: 'cve' }).expect(200);
      expect(await detail()).toBeNull();
      // rollback skips versions that are no longer approved
      const back = await request(t.app)
        .post('/models/default/llama/active/rollback')
        .set('Authorization', as(ALICE))
        .send({})
        .expect(200);
      expect(back.body.label).toBe('v1');
      expect(
        auditCalls(t.auditor)
          .map((c: any) => c.eventId)
          .filter((e: string) => /promote|rollback/.test(e)),
      ).toEqual([
        ...Array(6).fill('version-promote'),
        // the 409 of a stale expectedActive is audited as a failed attempt
        ...Array(5).fill('model-rollback'),
      ]);
    });

    it('lets one of two racing promotions win', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      await t.createVersion('v2');
      await t.approve('v1');
      await t.approve('v2');
      const results = await Promise.all(
        ['v1', 'v2'].map(label =>
          request(t.app)
            .post('/models/default/llama/active')
            .set('Authorization', as(ALICE))
            .send({ label, expectedActive: null }),
        ),
      );
      expect(results.map(r => r.status).sort()).toEqual([200, 409]);
    });
  });

  describe('downloads', () => {
    it('limits downloads of unapproved versions to owners and reviewers', async () => {
      const t = await setup(databaseId);
      await t.createModel();
      await t.createVersion('v1');
      await t.upload('v1', 'a.bin', 'abc');
      const get = (user: string) =>
        request(t.app)
          .get('/models/default/llama/versions/v1/files/a.bin')
          .set('Authorization', as(user));
      await get(ALICE).expect(200);
      await get(BOB).expect(200);
      const denied = await get(CAROL).expect(403);
      expect(denied.body.error.message).toBe(
        'Version v1 of model:default/llama is draft; only its owners and reviewers may download it until it is approved',
      );
      await t.approve('v1');
      await get(CAROL).expect(200);
      await t.transition('v1', BOB, 'deprecate').expect(200);
      await get(CAROL).expect(200);
      await t.transition('v1', BOB, 'archive').expect(200);
      await get(CAROL).expect(403);
    });

    it('follows allowUnapprovedDownloadsFor', async () => {
      const t = await setup(databaseId, {
        allowUnapprovedDownloadsFor: ['owners'],
      });
      await t.createModel();
      await t.createVersion('v1');
      await t.upload('v1', 'a.bin', 'abc');
      await request(t.app)
        .get('/models/default/llama/versions/v1/files/a.bin')
        .set('Authorization', as(ALICE))
        .expect(200);
      await request(t.app)
        .head('/models/default/llama/versions/v1/files/a.bin')
        .set('Authorization', as(BOB))
        .expect(403);
    });
  });

  describe('webhooks', () => {
    let server: Server;
    let url: string;
    const received: { headers: IncomingMessage['headers']; body: string }[] =
      [];
    let failures = 0;

    beforeAll(async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', c => chunks.push(c));
        req.on('end', () => {
          received.push({
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          if (failures > 0) {
            failures -= 1;
            res.writeHead(503).end('busy');
          } else if (req.url === '/gone') {
            res.writeHead(410).end();
          } else {
            res.writeHead(204).end();
          }
        });
      });
      await new Promise<void>(resolve =>
        server.listen(0, '127.0.0.1', resolve),
      );
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise(resolve => server.close(resolve));
    });

    beforeEach(() => {
      received.length = 0;
      failures = 0;
    });

    it('sends signed webhooks with retries and logs the deliveries', async () => {
      const t = await setup(databaseId, {
        webhooks: [
          {
            url: `${url}/hook`,
            secret: 's3cret',
            events: ['version.submitted', 'version.approved'],
            initialBackoff: { milliseconds: 10 },
            maxAttempts: 3,
          },
          {
            url: `${url}/gone`,
            events: ['version.approved'],
            initialBackoff: { milliseconds: 10 },
          },
        ],
      });
      await t.createModel();
      await t.createVersion('v1');
      failures = 2;
      await t.transition('v1', ALICE, 'submit').expect(200);
      await t.approvals.webhooks.whenIdle();
      expect(received).toHaveLength(3);
      const { headers, body } = received[2];
      const expected = `sha256=${createHmac('sha256', 's3cret')
        .update(body)
        .digest('hex')}`;
      expect(headers['x-model-hub-signature']).toBe(expected);
      expect(headers['x-model-hub-event']).toBe('version.submitted');
      expect(headers['content-type']).toBe('application/json');
      const payload = JSON.parse(body);
      expect(payload).toMatchObject({
        id: headers['x-model-hub-delivery'],
        event: 'version.submitted',
        modelRef: 'model:default/llama',
        versionLabel: 'v1',
        actor: ALICE,
        action: 'submit',
        version: { label: 'v1', state: 'in_review', previousState: 'draft' },
      });
      // every attempt carries the same delivery id and body
      expect(new Set(received.map(r => r.body)).size).toBe(1);

      await t.transition('v1', BOB, 'approve').expect(200);
      await t.approvals.webhooks.whenIdle();
      expect(
        received.slice(3).map(r => r.headers['x-model-hub-event']),
      ).toEqual(['version.approved', 'version.approved']);
      // no secret, no signature
      const gone = received
        .slice(3)
        .find(r => r.headers['x-model-hub-signature'] === undefined);
      expect(gone).toBeDefined();

      await request(t.app)
        .get('/webhooks/deliveries')
        .set('Authorization', as(BOB))
        .expect(403);
      const log = await request(t.app)
        .get('/webhooks/deliveries')
        .set('Authorization', as(DANA))
        .expect(200);
      expect(log.body.totalCount).toBe(3);
      const byEvent = (event: string, target: string) =>
        log.body.items.find(
          (d: any) => d.event === event && d.url === `${url}${target}`,
        );
      expect(byEvent('version.submitted', '/hook')).toMatchObject({
        status: 'succeeded',
        attempts: 3,
        responseStatus: 204,
        modelRef: 'model:default/llama',
        versionLabel: 'v1',
        payload: { event: 'version.submitted' },
      });
      expect(byEvent('version.approved', '/hook')).toMatchObject({
        status: 'succeeded',
        attempts: 1,
      });
      // a 410 is not retried
      expect(byEvent('version.approved', '/gone')).toMatchObject({
        status: 'failed',
        attempts: 1,
        responseStatus: 410,
        error: 'HTTP 410',
      });
    });

    it('gives up after maxAttempts', async () => {
      const t = await setup(databaseId, {
        webhooks: [
          {
            url: `${url}/hook`,
            initialBackoff: { milliseconds: 5 },
            maxAttempts: 2,
          },
        ],
      });
      await t.createModel();
      await t.createVersion('v1');
      failures = 5;
      await t.transition('v1', ALICE, 'submit').expect(200);
      await t.approvals.webhooks.whenIdle();
      expect(received).toHaveLength(2);
      const [delivery] = (
        await t.approvalsStore.listDeliveries({ offset: 0, limit: 10 })
      ).items;
      expect(delivery).toMatchObject({
        status: 'failed',
        attempts: 2,
        responseStatus: 503,
      });
    });
  });
});

describe('without the approvals service', () => {
  it('answers 503 on its routes', async () => {
    const knex = await databases.init('SQLITE_3');
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    const router = await createRouter({
      store,
      artifacts: await LocalArtifactStore.create({
        path: join(mockDir.path, 'none'),
      }),
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth(),
      userInfo: mockServices.userInfo(),
      permissions: mockServices.permissions(),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities: [] }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
    });
    const app = express().use(router).use(mockErrorHandler());
    await request(app).get('/reviews').expect(503);
  });
});
