import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  AuthorizeResult,
  Permission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import { SignalPayload } from '@backstage/plugin-signals-node';
import { Entity } from '@backstage/catalog-model';
import express from 'express';
import request from 'supertest';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { createRouter } from '../tests/__testUtils__/router';
import { JobRunner } from './JobRunner';
import { JOBS_SIGNAL_CHANNEL } from './JobSignals';

// Issue 17 point 4: a job's live signals reach only the users who may read
// its model, as the portal's policy decided with their own credentials when
// they listed the jobs; never a broadcast.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

const ALICE = 'user:default/alice'; // reads the models of team-a
const BOB = 'user:default/bob'; // reads nothing (deny by default)
const CAROL = 'user:default/carol'; // may read everything, never lists jobs
const DANA = 'user:default/dana'; // admin: reads everything
const ERIN = 'user:default/erin'; // reads every model but one, by its label

/** Users the policy denies everything from now on. */
const revoked = new Set<string>();

/** A deny-by-default policy, as a portal writes it. */
function policy(user: string, permission: Permission): PolicyDecision {
  if (revoked.has(user)) {
    return { result: AuthorizeResult.DENY };
  }
  if (user === DANA || user === CAROL) {
    return { result: AuthorizeResult.ALLOW };
  }
  const read =
    permission.name === 'model-hub.model.read' ||
    permission.name === 'catalog.entity.read';
  if (read && user === ALICE) {
    return createCatalogConditionalDecision(
      permission as any,
      catalogConditions.isEntityOwner({
        claims: [ALICE, 'group:default/team-a'],
      }),
    );
  }
  if (read && user === ERIN) {
    // a rule the hub cannot turn into SQL: resolved model by model
    return createCatalogConditionalDecision(permission as any, {
      not: catalogConditions.hasLabel({ label: 'secret' }),
    });
  }
  return { result: AuthorizeResult.DENY };
}

const userOf = (credentials: any): string =>
  credentials?.principal?.userEntityRef ?? '';

describe.each(databases.eachSupportedId())('job signals (%s)', id => {
  async function setup(entities: Entity[] = []) {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, String(Math.random())),
    });
    const published: SignalPayload[] = [];
    const jobs = new JobRunner({
      db: knex,
      logger: mockServices.logger.mock(),
      signals: {
        publish: async (signal: SignalPayload) => {
          published.push(signal);
        },
      },
    });
    let release!: () => void;
    const gate = new Promise<void>(resolve => {
      release = resolve;
    });
    jobs.addPool({
      concurrency: 3,
      executors: {
        test: async ctx => {
          ctx.progress({
            bytes: 1,
            totalBytes: 2,
            file: 'x'.repeat(500),
            files: ['a', 'b'],
          });
          await gate;
        },
      },
    });
    const router = await createRouter({
      store,
      artifacts,
      auth: mockServices.auth(),
      httpAuth: mockServices.httpAuth({
        defaultCredentials: mockCredentials.user(DANA),
      }),
      userInfo: {
        getUserInfo: async (credentials: any) => ({
          userEntityRef: userOf(credentials),
          ownershipEntityRefs: [userOf(credentials)],
        }),
      },
      permissions: mockServices.permissions.mock({
        authorize: (async (requests: any[], { credentials }: any) =>
          requests.map(r => {
            const d = policy(userOf(credentials), r.permission);
            return {
              result:
                d.result === AuthorizeResult.ALLOW
                  ? AuthorizeResult.ALLOW
                  : AuthorizeResult.DENY,
            };
          })) as any,
        authorizeConditional: (async (requests: any[], { credentials }: any) =>
          requests.map(r => policy(userOf(credentials), r.permission))) as any,
      }),
      auditor: mockServices.auditor.mock(),
      catalog: catalogServiceMock({ entities }),
      logger: mockServices.logger.mock(),
      maxUploadBytes: 1000,
      gcGracePeriodMs: 0,
      jobSignals: jobs.signals,
    });
    const app = express().use(router).use(mockErrorHandler());
    const a = await store.createModel({
      namespace: 'default',
      name: 'model-a',
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'group:default/team-a',
      sourceType: 'upload',
      tags: [],
      createdBy: DANA,
    });
    const b = await store.createModel({
      namespace: 'default',
      name: 'model-b',
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'group:default/team-b',
      sourceType: 'upload',
      tags: [],
      createdBy: DANA,
    });
    return { app, knex, jobs, published, release, a, b };
  }

  const listAs = (app: express.Express, user: string) =>
    request(app)
      .get('/jobs')
      .set('Authorization', mockCredentials.user.header(user))
      .expect(200);

  async function until(fn: () => boolean) {
    for (let i = 0; i < 400 && !fn(); i++) {
      await new Promise(r => setTimeout(r, 25));
    }
    expect(fn()).toBe(true);
  }

  /** The users who received the signals of a job. */
  const receivers = (published: SignalPayload[], jobId: string) =>
    [
      ...new Set(
        published
          .filter(s => (s.message as any).jobId === jobId)
          .flatMap(s =>
            s.recipients.type === 'user'
              ? ([] as string[]).concat(s.recipients.entityRef)
              : ['<broadcast>'],
          ),
      ),
    ].sort();

  it('signals the jobs of a model to the users who may read it, never to everyone', async () => {
    const { app, jobs, published, release, a, b } = await setup();
    // alice sees only model A's jobs; bob none; dana all
    for (const user of [ALICE, BOB, DANA]) {
      await listAs(app, user);
    }
    const jobA = await jobs.queue.enqueue({
      type: 'test',
      modelId: a.id,
      createdBy: DANA,
    });
    const jobB = await jobs.queue.enqueue({
      type: 'test',
      modelId: b.id,
      createdBy: DANA,
    });
    const unowned = await jobs.queue.enqueue({ type: 'test', createdBy: DANA });
    jobs.start();
    await until(
      () =>
        published.filter(s => (s.message as any).state === 'running').length >=
        3,
    );
    release();
    await until(
      () =>
        published.filter(s => (s.message as any).state === 'succeeded')
          .length === 3,
    );
    await jobs.stop();

    expect(receivers(published, jobA)).toEqual([ALICE, DANA]);
    expect(receivers(published, jobB)).toEqual([DANA]);
    // a job without a model is listed to every caller, so signalled to
    // every watcher; carol, who never listed jobs, gets nothing
    expect(receivers(published, unowned)).toEqual([ALICE, BOB, DANA]);
    for (const signal of published) {
      expect(signal.channel).toBe(JOBS_SIGNAL_CHANNEL);
      expect(signal.recipients.type).toBe('user');
    }
    // what the jobs list shows matches: alice lists A's job, not B's
    const listed = await listAs(app, ALICE);
    expect(listed.body.items.map((j: any) => j.id).sort()).toEqual(
      [jobA, unowned].sort(),
    );
    // small messages: the progress fields the page shows, no lists
    const done = published.find(
      s =>
        (s.message as any).jobId === jobA &&
        (s.message as any).state === 'succeeded',
    )!;
    expect(done.message).toEqual({
      jobId: jobA,
      type: 'test',
      modelId: a.id,
      state: 'succeeded',
      progress: { bytes: 1, totalBytes: 2, file: `${'x'.repeat(199)}…` },
    });
    // a model's page picks its jobs by the model id; jobs without one lack it
    expect(
      published.filter(s => (s.message as any).jobId === unowned)[0].message,
    ).not.toHaveProperty('modelId');
  });

  it("records a model page's list of its jobs with the caller's own read condition", async () => {
    const { app, jobs, a, b } = await setup();
    const listModelJobsAs = (user: string, model: string) =>
      request(app)
        .get('/jobs')
        .query({ model, state: ['queued', 'running'] })
        .set('Authorization', mockCredentials.user.header(user))
        .expect(200);
    // the model page of A lists A's jobs: alice may read A, bob nothing
    await listModelJobsAs(ALICE, 'model:default/model-a');
    await listModelJobsAs(BOB, 'model:default/model-a');
    await expect(jobs.signals.recipientsOf(a.id)).resolves.toEqual([ALICE]);
    // alice on B's page (she may not read B) receives none of B's signals
    await listModelJobsAs(ALICE, 'model:default/model-b');
    await expect(jobs.signals.recipientsOf(b.id)).resolves.toEqual([]);
    // a page of a model the hub lacks still renews the caller's own watch
    await listModelJobsAs(DANA, 'model:default/missing');
    await expect(jobs.signals.recipientsOf(b.id)).resolves.toEqual([DANA]);
  });

  async function runToEnd(jobs: JobRunner, jobId: string) {
    jobs.start();
    for (let i = 0; i < 400; i++) {
      const row = await jobs.queue.store.getJob({ id: jobId });
      if (row?.state === 'succeeded') {
        break;
      }
      await new Promise(r => setTimeout(r, 25));
    }
    await jobs.stop();
    await expect(jobs.queue.store.getJob({ id: jobId })).resolves.toMatchObject(
      { state: 'succeeded' },
    );
  }

  it('stops at the next list once the policy no longer lets a user read', async () => {
    const { app, jobs, a } = await setup();
    await listAs(app, ALICE);
    await expect(jobs.signals.recipientsOf(a.id)).resolves.toEqual([ALICE]);
    revoked.add(ALICE);
    try {
      await listAs(app, ALICE);
      await expect(jobs.signals.recipientsOf(a.id)).resolves.toEqual([]);
    } finally {
      revoked.delete(ALICE);
    }
  });

  it('signals nothing when nobody listed the jobs', async () => {
    const { jobs, published, release, a } = await setup();
    release();
    const job = await jobs.queue.enqueue({
      type: 'test',
      modelId: a.id,
      createdBy: DANA,
    });
    await runToEnd(jobs, job);
    expect(published).toEqual([]);
  });

  it('applies conditions resolved model by model, and forgets expired watches', async () => {
    const entity = (name: string, labels?: Record<string, string>) => ({
      apiVersion: 'model-hub.io/v1alpha1',
      kind: 'Model',
      metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) },
      spec: {
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/x',
      },
      relations: [{ type: 'ownedBy', targetRef: 'group:default/x' }],
    });
    // model B is labelled secret in the catalog: erin may not read it
    const { knex, app, jobs, published, release, a, b } = await setup([
      entity('model-a'),
      entity('model-b', { secret: 'true' }),
    ]);
    release();
    await listAs(app, ERIN);
    await expect(jobs.signals.recipientsOf(a.id)).resolves.toEqual([ERIN]);
    await expect(jobs.signals.recipientsOf(b.id)).resolves.toEqual([]);
    const jobB = await jobs.queue.enqueue({
      type: 'test',
      modelId: b.id,
      createdBy: DANA,
    });
    await runToEnd(jobs, jobB);
    expect(published).toEqual([]);

    // an expired watch receives nothing
    await knex('job_watchers').update({
      expires_at: new Date(Date.now() - 1000),
    });
    const later = new JobRunner({
      db: knex,
      logger: mockServices.logger.mock(),
    });
    await expect(later.signals.recipientsOf(a.id)).resolves.toEqual([]);
  });
});
