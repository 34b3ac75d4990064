import { randomBytes } from 'node:crypto';
import {
  AuthService,
  coreServices,
  createBackendModule,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import eventsPlugin from '@backstage/plugin-events-backend';
import { eventsServiceFactory } from '@backstage/plugin-events-node';
import {
  AuthorizeResult,
  Permission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import signalsPlugin from '@backstage/plugin-signals-backend';
import { signalsServiceRef } from '@backstage/plugin-signals-node';
import knexFactory from 'knex';
import request from 'supertest';
import WebSocket from 'ws';
import { modelHubPlugin } from '../plugin';
import { JobRunner } from './JobRunner';
import { JOBS_SIGNAL_CHANNEL } from './JobSignals';

// Issue 17 point 4, across instances: two backends on one PostgreSQL with
// the events backend's database bus. Alice and bob list the jobs through
// instance 2 and hold a signals WebSocket to instance 2; the jobs run on
// instance 1. Alice receives the signals of the model she may read and none
// of the other; bob, whom the policy denies, receives nothing.

jest.setTimeout(120_000);

const PG = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
const ALICE = 'user:default/alice';
const BOB = 'user:default/bob';
const DANA = 'user:default/dana';
const mockDir = createMockDirectory();

function policy(user: string, permission: Permission): PolicyDecision {
  if (user === DANA) {
    return { result: AuthorizeResult.ALLOW };
  }
  if (
    user === ALICE &&
    (permission.name === 'model-hub.model.read' ||
      permission.name === 'catalog.entity.read')
  ) {
    return createCatalogConditionalDecision(
      permission as any,
      catalogConditions.isEntityOwner({ claims: ['group:default/team-a'] }),
    );
  }
  return { result: AuthorizeResult.DENY };
}

const permissionsFactory = createServiceFactory({
  service: coreServices.permissions,
  deps: {},
  factory: () => {
    const decide = (requests: any[], credentials: any) =>
      requests.map(r =>
        credentials?.principal?.type === 'service'
          ? { result: AuthorizeResult.ALLOW }
          : policy(credentials?.principal?.userEntityRef, r.permission),
      );
    return {
      async authorizeConditional(requests: any[], { credentials }: any) {
        return decide(requests, credentials) as any;
      },
      async authorize(requests: any[], { credentials }: any) {
        return decide(requests, credentials).map(d => ({
          result:
            d.result === AuthorizeResult.ALLOW
              ? AuthorizeResult.ALLOW
              : AuthorizeResult.DENY,
        }));
      },
    };
  },
});

/**
 * The mock auth service, plus WebSocket tokens (`ws-user.<name>`): a
 * mock user token is not a valid WebSocket subprotocol, which is where the
 * signals client sends its token.
 */
const authFactory = createServiceFactory({
  service: coreServices.auth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }): AuthService {
    const base = mockServices.auth({ pluginId: plugin.getId() });
    return {
      authenticate: (token, options) =>
        token.startsWith('ws-user.')
          ? Promise.resolve(
              mockCredentials.user(`user:default/${token.slice(8)}`),
            )
          : base.authenticate(token, options),
      getNoneCredentials: () => base.getNoneCredentials(),
      getOwnServiceCredentials: () => base.getOwnServiceCredentials(),
      isPrincipal: base.isPrincipal.bind(base) as AuthService['isPrincipal'],
      getPluginRequestToken: options => base.getPluginRequestToken(options),
      getLimitedUserToken: credentials => base.getLimitedUserToken(credentials),
      listPublicServiceKeys: () => base.listPublicServiceKeys(),
    };
  },
});

/** Instance 1 only: a pool of workers running `test-progress` jobs. */
let runner: JobRunner | undefined;
const testJobsModule = createBackendModule({
  pluginId: 'model-hub',
  moduleId: 'test-jobs',
  register(reg) {
    reg.registerInit({
      deps: {
        database: coreServices.database,
        logger: coreServices.logger,
        lifecycle: coreServices.lifecycle,
        signals: signalsServiceRef,
      },
      async init({ database, logger, lifecycle, signals }) {
        runner = new JobRunner({
          db: await database.getClient(),
          logger,
          signals,
          lifecycle,
          workerId: 'instance-1-test',
        });
        runner.addPool({
          concurrency: 2,
          executors: {
            'test-progress': async ctx => {
              ctx.progress({ bytes: 1, totalBytes: 2 });
              await new Promise(r => setTimeout(r, 1200));
              ctx.progress({ bytes: 2, totalBytes: 2 });
            },
          },
        });
      },
    });
  },
});

const maybe = PG ? describe : describe.skip;

maybe('job signals across instances (PostgreSQL, events database bus)', () => {
  const prefix = `mh_xsig_${randomBytes(4).toString('hex')}_`;

  async function startInstance(extra: any[] = []) {
    return startTestBackend({
      features: [
        modelHubPlugin,
        eventsPlugin,
        signalsPlugin,
        eventsServiceFactory,
        databaseServiceFactory,
        authFactory,
        permissionsFactory,
        catalogServiceMock.factory({ entities: [] }),
        mockServices.rootConfig.factory({
          data: {
            backend: {
              database: { client: 'pg', connection: PG, prefix },
            },
            // the bus's long polls end within 2 s (shutdown waits for them)
            events: { notifyTimeoutMs: 2000 },
            modelHub: { storage: { local: { path: mockDir.path } } },
          },
        }),
        ...extra,
      ],
    });
  }

  afterAll(async () => {
    const admin = knexFactory({ client: 'pg', connection: PG });
    try {
      const { rows } = await admin.raw(
        'select datname from pg_database where datname like ?',
        [`${prefix}%`],
      );
      for (const { datname } of rows) {
        await admin.raw('drop database if exists ?? with (force)', [datname]);
      }
    } finally {
      await admin.destroy();
    }
  });

  /** A signals WebSocket to an instance, subscribed to the jobs channel. */
  async function connect(port: number, user: string) {
    const received: any[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      // the signals client sends its token as the subprotocol
      const ws = new WebSocket(
        `ws://localhost:${port}/api/signals`,
        `ws-user.${user}`,
      );
      const opened = await new Promise<boolean>(resolve => {
        ws.once('open', () => resolve(true));
        ws.once('error', () => resolve(false));
        ws.once('unexpected-response', () => resolve(false));
        // the first upgrade request only subscribes the signals router to
        // upgrades, and gets no answer
        setTimeout(() => resolve(false), 1000);
      });
      if (opened) {
        ws.on('message', data => received.push(JSON.parse(String(data))));
        ws.send(
          JSON.stringify({ action: 'subscribe', channel: JOBS_SIGNAL_CHANNEL }),
        );
        return { ws, received };
      }
      ws.terminate();
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`no signals connection to instance on ${port}`);
  }

  it('delivers a job of instance 1 through instance 2 to the readers of its model only', async () => {
    const one = await startInstance([testJobsModule]);
    const two = await startInstance();
    const as = (user: string) => mockCredentials.user.header(user);
    for (const [name, owner] of [
      ['model-a', 'group:default/team-a'],
      ['model-b', 'group:default/team-b'],
    ]) {
      await request(one.server)
        .post('/api/model-hub/models')
        .set('Authorization', as(DANA))
        .send({ name, type: 'llm', owner })
        .expect(201);
    }
    // the readers list the jobs through instance 2 (their watch is shared)
    for (const user of [ALICE, BOB]) {
      await request(two.server)
        .get('/api/model-hub/jobs')
        .set('Authorization', as(user))
        .expect(200);
    }
    const alice = await connect(two.server.port(), 'alice');
    const bob = await connect(two.server.port(), 'bob');
    // instance 2's signals subscription reaches the bus before the jobs
    await new Promise(r => setTimeout(r, 1500));

    const models = await request(one.server)
      .get('/api/model-hub/models')
      .set('Authorization', as(DANA))
      .expect(200);
    const idOf = (name: string) =>
      models.body.items.find((m: any) => m.name === name).id;
    const jobA = await runner!.queue.enqueue({
      type: 'test-progress',
      modelId: idOf('model-a'),
      createdBy: DANA,
    });
    const jobB = await runner!.queue.enqueue({
      type: 'test-progress',
      modelId: idOf('model-b'),
      createdBy: DANA,
    });
    runner!.wake();

    const stateOf = (id: string) =>
      alice.received
        .filter(m => m.message.jobId === id)
        .map(m => m.message.state);
    for (let i = 0; i < 300 && !stateOf(jobA).includes('succeeded'); i++) {
      await new Promise(r => setTimeout(r, 50));
    }
    // B's job is done too (its signals would be out by now)
    for (let i = 0; i < 100; i++) {
      const row = await runner!.queue.store.getJob({ id: jobB });
      if (row?.state === 'succeeded') {
        break;
      }
      await new Promise(r => setTimeout(r, 50));
    }
    await new Promise(r => setTimeout(r, 1000));

    expect(stateOf(jobA)).toContain('running');
    expect(stateOf(jobA)).toContain('succeeded');
    expect(alice.received.every(m => m.channel === JOBS_SIGNAL_CHANNEL)).toBe(
      true,
    );
    expect(stateOf(jobB)).toEqual([]);
    expect(bob.received).toEqual([]);
    // the job ran on instance 1 (instance 2 has no executor for it)
    const logs = await runner!.queue.store.listJobLogs({
      jobId: jobA,
      limit: 10,
    });
    expect(logs.map(l => l.message)).toContain(
      'Attempt 1 of 5 on instance-1-test',
    );
    alice.ws.terminate();
    bob.ws.terminate();
    await one.stop();
    await two.stop();
  });
});
