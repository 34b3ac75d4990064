import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  coreServices,
  createBackendModule,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import permissionPlugin from '@backstage/plugin-permission-backend';
import {
  AuthorizeResult,
  isResourcePermission,
} from '@backstage/plugin-permission-common';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import catalogModuleModelHub from '@model-hub/backstage-plugin-catalog-backend-module-model-hub';
import modelHubPlugin from '@model-hub/backstage-plugin-model-hub-backend';
import request from 'supertest';
import { safetensorsFile } from './demoSeed/files';

// Issue 23: an owner must never be refused on their own new model while the
// catalog processes it (and an outsider never allowed). The real catalog,
// the Model Hub entity provider emitting every second, the real permission
// backend with an ownership policy (catalog conditions), on SQLite and,
// when it answers, PostgreSQL.

jest.setTimeout(600_000);

const mockDir = createMockDirectory();
const MODELS = 50;
const GROUP = 'group:default/ml-engineers';

const org: Record<string, string[]> = {
  'user:default/alice': [GROUP],
  'user:default/bob': ['group:default/ml-reviewers'],
  'user:default/eve': ['group:default/other-team'],
};

const userInfoFactory = createServiceFactory({
  service: coreServices.userInfo,
  deps: {},
  factory: () => ({
    async getUserInfo(credentials: any) {
      const ref = credentials.principal.userEntityRef;
      return { userEntityRef: ref, ownershipEntityRefs: [ref, ...org[ref]] };
    },
  }),
});

// plugin-to-plugin tokens on behalf of a user carry the calling plugin as
// the actor, as real tokens do (see permissionPolicy.integration.test.ts)
const SERVICE_TOKEN_PREFIX = 'mock-service-token:';
const authFactory = createServiceFactory({
  service: coreServices.auth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }) {
    const inner = mockServices.auth({ pluginId: plugin.getId() });
    return {
      authenticate: async (token, options) => {
        if (token.startsWith(SERVICE_TOKEN_PREFIX)) {
          const { sub, obo, target } = JSON.parse(
            token.slice(SERVICE_TOKEN_PREFIX.length),
          );
          if (obo && (!target || target === plugin.getId())) {
            return mockCredentials.user(obo, {
              actor: { subject: sub },
            }) as any;
          }
        }
        return inner.authenticate(token, options);
      },
      isPrincipal: inner.isPrincipal.bind(inner) as any,
      getNoneCredentials: inner.getNoneCredentials.bind(inner),
      getOwnServiceCredentials: inner.getOwnServiceCredentials.bind(inner),
      getPluginRequestToken: inner.getPluginRequestToken.bind(inner),
      getLimitedUserToken: inner.getLimitedUserToken.bind(inner),
      listPublicServiceKeys: inner.listPublicServiceKeys.bind(inner),
    };
  },
});

const OWNER_PERMISSIONS = new Set([
  'model-hub.version.create',
  'model-hub.artifact.upload',
  'model-hub.sync.trigger',
]);

/** Everyone reads and creates models; owners change theirs; bob approves. */
const ownershipPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'ownership-test-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint, userInfo: coreServices.userInfo },
      async init({ policy, userInfo }) {
        policy.setPolicy({
          async handle(req, user) {
            if (!user) {
              return { result: AuthorizeResult.DENY };
            }
            const { ownershipEntityRefs } = await userInfo.getUserInfo(
              user.credentials,
            );
            const { name, attributes } = req.permission;
            if (
              OWNER_PERMISSIONS.has(name) &&
              isResourcePermission(req.permission, 'catalog-entity')
            ) {
              return createCatalogConditionalDecision(
                req.permission,
                catalogConditions.isEntityOwner({
                  claims: ownershipEntityRefs,
                }),
              );
            }
            if (name === 'model-hub.version.approve') {
              return {
                result: ownershipEntityRefs.includes(
                  'group:default/ml-reviewers',
                )
                  ? AuthorizeResult.ALLOW
                  : AuthorizeResult.DENY,
              };
            }
            if (
              name === 'model-hub.model.create' ||
              attributes.action === 'read'
            ) {
              return { result: AuthorizeResult.ALLOW };
            }
            return { result: AuthorizeResult.DENY };
          },
        });
      },
    });
  },
});

/** A ZIP (stored entries) of a model package. */
function zipOf(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const WEIGHTS = safetensorsFile([{ name: 'w', shape: [4] }], 'owner-test');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const packageOf = (name: string) =>
  zipOf({
    'model.safetensors': WEIGHTS,
    'model-manifest.json': Buffer.from(
      JSON.stringify({
        name,
        version: 'v2',
        files: [{ path: 'model.safetensors', sha256: sha256(WEIGHTS) }],
      }),
    ),
  });

type PgClient = {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  end(): Promise<void>;
};
/** `pg` (a dependency of the backend; it has no types here). */
function pgClient(connectionString: string): PgClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require('pg') as {
    Client: new (options: { connectionString: string }) => PgClient;
  };
  return new Client({ connectionString });
}

const PG = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING;
const engines = ['SQLITE', ...(PG ? ['POSTGRES'] : [])];

describe.each(engines)(
  'owner decisions while the catalog processes new models (%s)',
  engine => {
    const prefix = `h4owner${randomBytes(4).toString('hex')}_`;

    afterAll(async () => {
      if (engine !== 'POSTGRES') {
        return;
      }
      const admin = pgClient(PG!);
      await admin.connect();
      try {
        const { rows } = await admin.query(
          'select datname from pg_database where datname like $1',
          [`${prefix}%`],
        );
        for (const { datname } of rows) {
          await admin.query(
            `drop database if exists "${datname}" with (force)`,
          );
        }
      } finally {
        await admin.end();
      }
    });

    it('never refuses the group on its new models, never allows an outsider', async () => {
      // the catalog module's provider runs when triggered (below)
      const scheduler = mockServices.scheduler() as any;
      const backend = await startTestBackend({
        features: [
          scheduler.factory(),
          catalogPlugin,
          catalogModuleModelHub,
          permissionPlugin,
          ownershipPolicy,
          modelHubPlugin,
          permissionsServiceFactory,
          authFactory,
          httpAuthServiceFactory,
          userInfoFactory,
          ...(engine === 'POSTGRES' ? [databaseServiceFactory] : []),
          mockServices.rootConfig.factory({
            data: {
              ...(engine === 'POSTGRES' && {
                backend: {
                  database: { client: 'pg', connection: PG, prefix },
                },
              }),
              permission: { enabled: true },
              catalog: {
                processingInterval: { seconds: 1 },
                providers: {
                  modelHub: {
                    deltaSchedule: {
                      frequency: { seconds: 1 },
                      timeout: { minutes: 1 },
                      initialDelay: { seconds: 1 },
                    },
                  },
                },
              },
              modelHub: {
                storage: { local: { path: join(mockDir.path, engine) } },
                // sync jobs fail fast: nothing listens there
                huggingface: { endpoint: 'http://127.0.0.1:9' },
                approvals: { requiredChecks: [] },
              },
            },
          }),
        ],
      });
      const { server } = backend;
      // the provider emits new models every second while the test runs
      let pumping = true;
      const pump = (async () => {
        await scheduler.triggerTask('model-hub-provider:default:refresh');
        while (pumping) {
          await new Promise(r => setTimeout(r, 1000));
          await scheduler.triggerTask('model-hub-provider:default:delta');
        }
      })();
      const as = (user: string) =>
        mockCredentials.user.header(`user:default/${user}`);
      const api = '/api/model-hub/models/default';

      /** Every owner action on a model, with the statuses it answered. */
      const ownerActions = async (user: string, name: string) => {
        const m = `${api}/${name}`;
        const statuses: Record<string, number> = {};
        const put = (path: string, label: string) =>
          request(server)
            .put(`${m}/versions/${label}/files/${path}`)
            .set('Authorization', as(user))
            .set('Content-Type', 'application/octet-stream')
            .send(WEIGHTS);
        statuses.createVersion = (
          await request(server)
            .post(`${m}/versions`)
            .set('Authorization', as(user))
            .send({ label: user === 'alice' ? 'v1' : 'x1' })
        ).status;
        // an outsider tries the draft the package created (v2)
        const draft = user === 'alice' ? 'v1' : 'v2';
        statuses.upload = (await put('model.safetensors', draft)).status;
        const pkg = await request(server)
          .post(`${m}/packages?label=${user === 'alice' ? 'v2' : 'x2'}`)
          .set('Authorization', as(user))
          .set('Content-Type', 'application/zip')
          .send(packageOf(name));
        statuses.packageImport = pkg.status;
        statuses.submit = (
          await request(server)
            .post(`${m}/versions/${draft}/transitions`)
            .set('Authorization', as(user))
            .send({ action: 'submit' })
        ).status;
        statuses.sync = (
          await request(server)
            .post(`${m}/sync`)
            .set('Authorization', as(user))
            .send({})
        ).status;
        if (user === 'alice') {
          // a reviewer approves, the owner promotes
          statuses.reviewerApproves = (
            await request(server)
              .post(`${m}/versions/v1/transitions`)
              .set('Authorization', as('bob'))
              .send({ action: 'approve' })
          ).status;
        }
        statuses.promote = (
          await request(server)
            .post(`${m}/active`)
            .set('Authorization', as(user))
            .send({ label: 'v1' })
        ).status;
        return statuses;
      };

      const catalogState = async (name: string) => {
        const res = await request(server)
          .get(`/api/catalog/entities/by-name/model/default/${name}`)
          .set('Authorization', as('alice'));
        if (res.status !== 200) {
          return 'absent';
        }
        return res.body.relations?.some((r: any) => r.type === 'ownedBy')
          ? 'processed'
          : 'unprocessed';
      };

      const refusals: string[] = [];
      const unexpected: string[] = [];
      const allowedOutsider: string[] = [];
      const states: Record<string, number> = {};
      // the models are created one after the other, each followed at once
      // by its owner's and the outsider's actions; a few in flight at a time
      const runModel = async (i: number) => {
        const name = `owned-${i}`;
        const created = await request(server)
          .post('/api/model-hub/models')
          .set('Authorization', as('alice'))
          .send({
            name,
            owner: GROUP,
            type: 'other',
            source: { huggingface: { repo: `acme/${name}` } },
          });
        expect(created.status).toBe(201);
        const state = await catalogState(name);
        states[state] = (states[state] ?? 0) + 1;
        const expected: Record<string, number> = {
          createVersion: 201,
          upload: 201,
          packageImport: 201,
          submit: 200,
          sync: 202,
          reviewerApproves: 200,
          promote: 200,
        };
        for (const [action, status] of Object.entries(
          await ownerActions('alice', name),
        )) {
          if (status === 403 || status === 404) {
            refusals.push(`${name} ${action} ${status} (catalog: ${state})`);
          } else if (status !== expected[action]) {
            unexpected.push(`${name} ${action} ${status}`);
          }
        }
        for (const [action, status] of Object.entries(
          await ownerActions('eve', name),
        )) {
          if (status !== 403) {
            allowedOutsider.push(`${name} ${action} ${status}`);
          }
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < MODELS) {
            await runModel(next++);
          }
        }),
      );
      expect({ refusals, unexpected, allowedOutsider }).toEqual({
        refusals: [],
        unexpected: [],
        allowedOutsider: [],
      });
      // the decisions were taken before the catalog had the entities (the
      // provider emits every second, the catalog processes every second)
      expect(states.absent ?? 0).toBeGreaterThan(0);

      // after the catalog has processed them: the same answers (the first
      // models, which the catalog has had the longest)
      const names = Array.from({ length: 5 }, (_, i) => `owned-${i}`);
      for (const name of names) {
        for (let tries = 0; tries < 120; tries++) {
          if ((await catalogState(name)) === 'processed') {
            break;
          }
          await new Promise(r => setTimeout(r, 1000));
        }
        expect(`${name}: ${await catalogState(name)}`).toBe(
          `${name}: processed`,
        );
      }
      for (const name of names) {
        const mine = await request(server)
          .post(`${api}/${name}/versions`)
          .set('Authorization', as('alice'))
          .send({ label: 'v3' });
        expect(`${name} ${mine.status}`).toBe(`${name} 201`);
        const theirs = await request(server)
          .post(`${api}/${name}/versions`)
          .set('Authorization', as('eve'))
          .send({ label: 'x3' });
        expect(`${name} ${theirs.status}`).toBe(`${name} 403`);
      }
      pumping = false;
      await pump;
      await backend.stop();
    });
  },
);
