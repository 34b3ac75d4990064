import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
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
import {
  AuthorizeResult,
  isResourcePermission,
  Permission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  MockHfServer,
} from '@model-hub/mock-hf-server';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { modelHubPlugin } from '../plugin';

// Issue 14, acceptance 1: the status of EVERY route of openapi.yaml for
// alice (ml-engineers: creates models, changes the models her group owns),
// bob (ml-reviewers: reviews and approves), carol (reads, except one model
// the policy hides from her) and dana (ml-admins: everything). The routes
// come from the document: a route without an expectation below fails the
// test with its name, so that whoever adds a route adds its line here.

jest.setTimeout(120_000);

const USERS = ['carol', 'bob', 'alice', 'dana'] as const;
type User = (typeof USERS)[number];
const ref = (u: User) => `user:default/${u}`;
const ENGINEERS = 'group:default/ml-engineers';
const org: Record<string, string[]> = {
  [ref('alice')]: [ENGINEERS],
  [ref('bob')]: ['group:default/ml-reviewers'],
  [ref('carol')]: [],
  [ref('dana')]: ['group:default/ml-admins'],
};

/** The model hidden from carol: registered from the mock Hub. */
const HIDDEN = 'acme--tiny-llm';
const HIDDEN_REPO = FIXTURE_REPOS.tinyLlm;

const OWNER_PERMISSIONS = new Set([
  'model-hub.version.create',
  'model-hub.artifact.upload',
  'model-hub.sync.trigger',
]);

/** The policy of the matrix, as a portal would write it. */
function policy(user: string, permission: Permission): PolicyDecision {
  const groups = org[user] ?? [];
  const { name } = permission;
  if (groups.includes('group:default/ml-admins')) {
    return { result: AuthorizeResult.ALLOW };
  }
  if (name === 'model-hub.model.read' && user === ref('carol')) {
    // everything but one model
    return createCatalogConditionalDecision(permission as any, {
      not: catalogConditions.hasMetadata({ key: 'name', value: HIDDEN }),
    });
  }
  if (
    name === 'model-hub.model.read' ||
    name === 'catalog.entity.read' ||
    name === 'model-hub.artifact.download'
  ) {
    return { result: AuthorizeResult.ALLOW };
  }
  if (name === 'model-hub.model.create') {
    return {
      result: groups.includes(ENGINEERS)
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY,
    };
  }
  if (
    OWNER_PERMISSIONS.has(name) &&
    groups.includes(ENGINEERS) &&
    isResourcePermission(permission, 'catalog-entity')
  ) {
    return createCatalogConditionalDecision(
      permission,
      catalogConditions.isEntityOwner({ claims: [user, ...groups] }),
    );
  }
  if (
    (name === 'model-hub.version.review' ||
      name === 'model-hub.version.approve') &&
    groups.includes('group:default/ml-reviewers')
  ) {
    return { result: AuthorizeResult.ALLOW };
  }
  return { result: AuthorizeResult.DENY };
}

const principalOf = (credentials: any): string =>
  credentials?.principal?.userEntityRef ?? '';

// The permission framework with the policy above. `authorize` with a
// resource applies conditions as the catalog does, on the entity the hub's
// row of the model becomes (the catalog is a mock here).
const permissionsFactory = createServiceFactory({
  service: coreServices.permissions,
  deps: {},
  factory: () => ({
    async authorizeConditional(requests: any[], { credentials }: any) {
      if (credentials?.principal?.type === 'service') {
        return requests.map(() => ({ result: AuthorizeResult.ALLOW }));
      }
      return requests.map(r => policy(principalOf(credentials), r.permission));
    },
    async authorize(requests: any[], { credentials }: any) {
      if (credentials?.principal?.type === 'service') {
        return requests.map(() => ({ result: AuthorizeResult.ALLOW }));
      }
      return requests.map(r => {
        const d = policy(principalOf(credentials), r.permission);
        // only the hub's own decision path applies conditions in this test
        return {
          result:
            d.result === AuthorizeResult.ALLOW
              ? AuthorizeResult.ALLOW
              : AuthorizeResult.DENY,
        };
      });
    },
  }),
});

const userInfoFactory = createServiceFactory({
  service: coreServices.userInfo,
  deps: {},
  factory: () => ({
    async getUserInfo(credentials: any) {
      const u = principalOf(credentials);
      return { userEntityRef: u, ownershipEntityRefs: [u, ...(org[u] ?? [])] };
    },
  }),
});

type Status = number | number[];
type Expectation = {
  /** The request, as one user; `ids` holds what the setup created. */
  send: (
    user: User,
    r: ReturnType<typeof request.agent>,
    ids: Ids,
  ) => request.Test;
  /** Expected status per user (a list: any of them). */
  status: Record<User, Status>;
};
type Ids = {
  jobId: string;
  tokens: Record<User, string>;
  uploads: Record<User, string>;
};

const M = `/api/model-hub/models/default/${HIDDEN}`;
const same = (s: Status): Record<User, Status> => ({
  alice: s,
  bob: s,
  carol: s,
  dana: s,
});
/** Reads of the hidden model: carol does not see it. */
const readHidden = (s: Status = 200): Record<User, Status> => ({
  ...same(s),
  carol: 404,
});
/** Changes only the owner (alice) and admins (dana) may make. */
const ownerChange = (s: Status): Record<User, Status> => ({
  alice: s,
  bob: 403,
  carol: 404,
  dana: s,
});
const adminOnly = (s: Status): Record<User, Status> => ({
  alice: 403,
  bob: 403,
  carol: 403,
  dana: s,
});

const SAFETENSORS = (() => {
  const header = Buffer.from(
    JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(4)]);
})();

const auth = (u: User) => mockCredentials.user.header(ref(u));

/** The portal's transfer signing key (Ed25519, PEM). */
const TRANSFER_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

/** Every route of openapi.yaml, by `METHOD path`. */
const MATRIX: Record<string, Expectation> = {
  'GET /models': {
    send: (u, r) =>
      r.get('/api/model-hub/models').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /models': {
    send: (u, r) =>
      r
        .post('/api/model-hub/models')
        .set('Authorization', auth(u))
        .send({ name: `new-${u}`, owner: ENGINEERS, type: 'other' }),
    status: { alice: 201, bob: 403, carol: 403, dana: 201 },
  },
  'GET /models/{namespace}/{name}': {
    send: (u, r) => r.get(M).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'PATCH /models/{namespace}/{name}': {
    send: (u, r) =>
      r
        .patch(M)
        .set('Authorization', auth(u))
        .send({ description: `edited by ${u}` }),
    status: ownerChange(200),
  },
  'DELETE /models/{namespace}/{name}': {
    // alice's model (created by POST /models above; only admins delete),
    // and dana's
    send: (u, r) =>
      r
        .delete(
          `/api/model-hub/models/default/new-${
            u === 'dana' ? 'dana' : 'alice'
          }`,
        )
        .set('Authorization', auth(u)),
    // admins only
    status: adminOnly(204),
  },
  'GET /models/{namespace}/{name}/versions': {
    send: (u, r) => r.get(`${M}/versions`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /models/{namespace}/{name}/versions': {
    send: (u, r) =>
      r
        .post(`${M}/versions`)
        .set('Authorization', auth(u))
        .send({ label: `n-${u}` }),
    status: ownerChange(201),
  },
  'GET /models/{namespace}/{name}/versions/{label}': {
    send: (u, r) => r.get(`${M}/versions/v1`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'DELETE /models/{namespace}/{name}/versions/{label}': {
    send: (u, r) =>
      r
        .delete(`${M}/versions/n-${u === 'dana' ? 'dana' : 'alice'}`)
        .set('Authorization', auth(u)),
    status: ownerChange(204),
  },
  'GET /models/{namespace}/{name}/versions/{label}/files': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/files`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /models/{namespace}/{name}/versions/{label}/files': {
    send: (u, r) =>
      r
        .post(`${M}/versions/v2/files`)
        .set('Authorization', auth(u))
        .field('path', `m-${u}.safetensors`)
        .attach('file', SAFETENSORS, `m-${u}.safetensors`),
    status: ownerChange(201),
  },
  'GET /models/{namespace}/{name}/versions/{label}/files/{path}': {
    send: (u, r) =>
      r
        .get(`${M}/versions/v1/files/weights/model.safetensors`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'HEAD /models/{namespace}/{name}/versions/{label}/files/{path}': {
    send: (u, r) =>
      r
        .head(`${M}/versions/v1/files/weights/model.safetensors`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'PUT /models/{namespace}/{name}/versions/{label}/files/{path}': {
    send: (u, r) =>
      r
        .put(`${M}/versions/v2/files/p-${u}.safetensors`)
        .set('Authorization', auth(u))
        .set('Content-Type', 'application/octet-stream')
        .send(SAFETENSORS),
    status: ownerChange(201),
  },
  'DELETE /models/{namespace}/{name}/versions/{label}/files/{path}': {
    send: (u, r) =>
      r
        .delete(`${M}/versions/v2/files/p-${u}.safetensors`)
        .set('Authorization', auth(u)),
    status: ownerChange(204),
  },
  'POST /models/{namespace}/{name}/sync': {
    send: (u, r) => r.post(`${M}/sync`).set('Authorization', auth(u)).send({}),
    // 409 while a sync of the model is queued already
    status: ownerChange([202, 409]),
  },
  'GET /catalog-sync': {
    // the state of the reconciliation (counts and times, no model)
    send: (u, r) =>
      r.get('/api/model-hub/catalog-sync').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /catalog-sync/entities': {
    // the catalog module's notifications: a service only
    send: (u, r) =>
      r
        .post('/api/model-hub/catalog-sync/entities')
        .set('Authorization', auth(u))
        .send({ entityRefs: [] }),
    status: same(403),
  },
  'GET /jobs': {
    send: (u, r) => r.get('/api/model-hub/jobs').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /jobs/{id}': {
    send: (u, r, ids) =>
      r.get(`/api/model-hub/jobs/${ids.jobId}`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /jobs/{id}/logs': {
    send: (u, r, ids) =>
      r
        .get(`/api/model-hub/jobs/${ids.jobId}/logs`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /jobs/{id}/retry': {
    send: (u, r, ids) =>
      r
        .post(`/api/model-hub/jobs/${ids.jobId}/retry`)
        .set('Authorization', auth(u)),
    // 409 unless the job failed or was cancelled
    status: ownerChange([200, 409]),
  },
  'POST /jobs/{id}/cancel': {
    send: (u, r, ids) =>
      r
        .post(`/api/model-hub/jobs/${ids.jobId}/cancel`)
        .set('Authorization', auth(u)),
    status: ownerChange([200, 409]),
  },
  'GET /stats/history': {
    send: (u, r) =>
      r.get('/api/model-hub/stats/history').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /activity': {
    send: (u, r) =>
      r.get('/api/model-hub/activity').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /stats': {
    send: (u, r) => r.get('/api/model-hub/stats').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /admin/gc': {
    send: (u, r) =>
      r.post('/api/model-hub/admin/gc').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'POST /admin/store-check': {
    send: (u, r) =>
      r.post('/api/model-hub/admin/store-check').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /reviews': {
    send: (u, r) =>
      r.get('/api/model-hub/reviews').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /models/{namespace}/{name}/versions/{label}/transitions': {
    send: (u, r) =>
      r
        .post(`${M}/versions/v3/transitions`)
        .set('Authorization', auth(u))
        .send({ action: 'submit' }),
    // the second submission finds the version in review
    status: ownerChange([200, 409]),
  },
  'GET /models/{namespace}/{name}/versions/{label}/review': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/review`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /models/{namespace}/{name}/versions/{label}/comments': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/comments`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /models/{namespace}/{name}/versions/{label}/comments': {
    send: (u, r) =>
      r
        .post(`${M}/versions/v1/comments`)
        .set('Authorization', auth(u))
        .send({ body: `a comment by ${u}` }),
    // reviewers and owners
    status: { alice: 201, bob: 201, carol: 404, dana: 201 },
  },
  'POST /models/{namespace}/{name}/versions/{label}/checks/{check}/waiver': {
    send: (u, r) =>
      r
        .post(`${M}/versions/v3/checks/model-hub.format/waiver`)
        .set('Authorization', auth(u))
        .send({ reason: `waived by ${u}` }),
    status: { alice: 403, bob: 403, carol: 404, dana: 201 },
  },
  'GET /models/{namespace}/{name}/versions/{label}/diff': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/diff`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /models/{namespace}/{name}/versions/{label}/history': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/history`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /models/{namespace}/{name}/active': {
    send: (u, r) => r.get(`${M}/active`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /models/{namespace}/{name}/active': {
    send: (u, r) =>
      r.post(`${M}/active`).set('Authorization', auth(u)).send({ label: 'v1' }),
    // 409 once v1 is active
    status: ownerChange([200, 409]),
  },
  'POST /models/{namespace}/{name}/active/rollback': {
    send: (u, r) =>
      r.post(`${M}/active/rollback`).set('Authorization', auth(u)).send({}),
    // 409: no earlier approved version to roll back to
    status: ownerChange(409),
  },
  'GET /webhooks/deliveries': {
    send: (u, r) =>
      r.get('/api/model-hub/webhooks/deliveries').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /tokens': {
    send: (u, r) =>
      r.get('/api/model-hub/tokens').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /tokens': {
    send: (u, r) =>
      r
        .post('/api/model-hub/tokens')
        .set('Authorization', auth(u))
        .send({ name: `second token of ${u}` }),
    status: same(201),
  },
  'DELETE /tokens/{id}': {
    // each user revokes a token of their own
    send: (u, r, ids) =>
      r
        .delete(`/api/model-hub/tokens/${ids.tokens[u]}`)
        .set('Authorization', auth(u)),
    status: same(204),
  },
  'GET /admin/tokens': {
    send: (u, r) =>
      r.get('/api/model-hub/admin/tokens').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'DELETE /admin/tokens/{id}': {
    // carol's token, revoked by an admin (revoking twice is the same)
    send: (u, r, ids) =>
      r
        .delete(`/api/model-hub/admin/tokens/${ids.tokens.carol}`)
        .set('Authorization', auth(u)),
    status: adminOnly(204),
  },
  'GET /hf/api/whoami-v2': {
    send: (u, r) =>
      r.get('/api/model-hub/hf/api/whoami-v2').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /hf/api/models/{org}/{name}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/hf/api/models/${HIDDEN_REPO}`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/api/models/{org}/{name}/revision/{rev}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/hf/api/models/default/${HIDDEN}/revision/main`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/api/models/{org}/{name}/refs': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/hf/api/models/default/${HIDDEN}/refs`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/api/models/{org}/{name}/tree/{rev}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/hf/api/models/default/${HIDDEN}/tree/main`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/api/models/{org}/{name}/tree/{rev}/{path}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/hf/api/models/default/${HIDDEN}/tree/main/weights`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /hf/api/models/{org}/{name}/paths-info/{rev}': {
    send: (u, r) =>
      r
        .post(`/api/model-hub/hf/api/models/default/${HIDDEN}/paths-info/main`)
        .set('Authorization', auth(u))
        .send({ paths: ['weights/model.safetensors'] }),
    status: readHidden(),
  },
  'HEAD /hf/{org}/{name}/resolve/{rev}/{path}': {
    send: (u, r) =>
      r
        .head(
          `/api/model-hub/hf/default/${HIDDEN}/resolve/main/weights/model.safetensors`,
        )
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/{org}/{name}/resolve/{rev}/{path}': {
    send: (u, r) =>
      r
        .get(
          `/api/model-hub/hf/default/${HIDDEN}/resolve/main/weights/model.safetensors`,
        )
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'HEAD /hf/{org}/{name}/raw/{rev}/{path}': {
    send: (u, r) =>
      r
        .head(
          `/api/model-hub/hf/default/${HIDDEN}/raw/main/weights/model.safetensors`,
        )
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'GET /hf/{org}/{name}/raw/{rev}/{path}': {
    send: (u, r) =>
      r
        .get(
          `/api/model-hub/hf/default/${HIDDEN}/raw/main/weights/model.safetensors`,
        )
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  // model sources (issue 22): read by everyone signed in, managed by admins
  'GET /sources': {
    send: (u, r) => r.get('/api/model-hub/sources').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /sources': {
    send: (u, r) =>
      r
        .post('/api/model-hub/sources')
        .set('Authorization', auth(u))
        .send({ name: `src-${u}`, kind: 'huggingface', endpoint: 'http://127.0.0.1:9' }),
    status: adminOnly(201),
  },
  'GET /sources/{name}': {
    send: (u, r) =>
      r.get('/api/model-hub/sources/huggingface').set('Authorization', auth(u)),
    status: same(200),
  },
  'DELETE /sources/{name}': {
    // the source of the config: admins are told to remove it there
    send: (u, r) =>
      r.delete('/api/model-hub/sources/huggingface').set('Authorization', auth(u)),
    status: adminOnly(409),
  },
  'POST /sources/{name}/check': {
    send: (u, r) =>
      r.post('/api/model-hub/sources/huggingface/check').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /sources/{name}/models': {
    send: (u, r) =>
      r.get('/api/model-hub/sources/huggingface/models').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /sources/of-model/{namespace}/{name}': {
    send: (u, r) =>
      r.get(`/api/model-hub/sources/of-model/default/${HIDDEN}`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /huggingface/repos': {
    send: (u, r) =>
      r
        .post('/api/model-hub/huggingface/repos')
        .set('Authorization', auth(u))
        .send({ repoId: FIXTURE_REPOS.embedding, owner: ENGINEERS }),
    // the second registration of the same repo is a conflict
    status: { alice: [202, 409], bob: 403, carol: 403, dana: [202, 409] },
  },
  'GET /huggingface/repos': {
    send: (u, r) =>
      r.get('/api/model-hub/huggingface/repos').set('Authorization', auth(u)),
    status: same(200),
  },
  'GET /huggingface/preview/{org}/{name}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/huggingface/preview/${FIXTURE_REPOS.diffusion}`)
        .set('Authorization', auth(u)),
    status: { alice: 200, bob: 403, carol: 403, dana: 200 },
  },
  'GET /huggingface/repos/{org}/{name}': {
    send: (u, r) =>
      r
        .get(`/api/model-hub/huggingface/repos/${HIDDEN_REPO}`)
        .set('Authorization', auth(u)),
    status: readHidden(),
  },
  'DELETE /huggingface/repos/{org}/{name}': {
    // the registration made by POST /huggingface/repos above
    send: (u, r) =>
      r
        .delete(`/api/model-hub/huggingface/repos/${FIXTURE_REPOS.embedding}`)
        .set('Authorization', auth(u)),
    // removed by alice (its owner); gone for dana
    status: { alice: 204, bob: 403, carol: 403, dana: 404 },
  },
  'POST /huggingface/repos/{org}/{name}/download': {
    send: (u, r) =>
      r
        .post(`/api/model-hub/huggingface/repos/${HIDDEN_REPO}/download`)
        .set('Authorization', auth(u))
        .send({}),
    status: ownerChange([202, 409]),
  },
  'GET /entity-feed': {
    send: (u, r) =>
      r.get('/api/model-hub/entity-feed').set('Authorization', auth(u)),
    status: same(200),
  },
  'POST /scan': {
    send: (u, r) =>
      r
        .post('/api/model-hub/scan')
        .set('Authorization', auth(u))
        .send({ path: 'acme' }),
    // no scan root is configured: 404 for the admin
    status: adminOnly(404),
  },
  'GET /scan': {
    send: (u, r) => r.get('/api/model-hub/scan').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  // the audit trail: model-hub.audit.read (nobody here) or model-hub.admin
  'GET /audit': {
    send: (u, r) =>
      r.get('/api/model-hub/audit?event=version-approve').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /audit/export': {
    send: (u, r) =>
      r.get('/api/model-hub/audit/export?from=2026-01-01').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /audit/events': {
    send: (u, r) =>
      r.get('/api/model-hub/audit/events').set('Authorization', auth(u)),
    status: adminOnly(200),
  },
  'GET /namespaces': {
    send: (u, r) =>
      r.get('/api/model-hub/namespaces').set('Authorization', auth(u)),
    status: same(200),
  },
  'OPTIONS /uploads': {
    send: (u, r) =>
      r
        .options('/api/model-hub/uploads')
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0'),
    status: same(204),
  },
  'POST /uploads': {
    send: (u, r) =>
      r
        .post('/api/model-hub/uploads')
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', String(SAFETENSORS.length))
        .set(
          'Upload-Metadata',
          [
            ['model', `default/${HIDDEN}`],
            ['version', 'v2'],
            ['path', `t-${u}.safetensors`],
          ]
            .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
            .join(','),
        ),
    status: ownerChange(201),
  },
  'OPTIONS /uploads/{id}': {
    send: (u, r, ids) =>
      r
        .options(`/api/model-hub/uploads/${ids.uploads.alice}`)
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0'),
    status: same(204),
  },
  'HEAD /uploads/{id}': {
    // alice's upload: its creator only
    send: (u, r, ids) =>
      r
        .head(`/api/model-hub/uploads/${ids.uploads.alice}`)
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0'),
    status: { alice: 200, bob: 403, carol: 404, dana: 403 },
  },
  'PATCH /uploads/{id}': {
    send: (u, r, ids) =>
      r
        .patch(`/api/model-hub/uploads/${ids.uploads[u]}`)
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        // a part: the upload stays open for DELETE
        .send(SAFETENSORS.subarray(0, 10)),
    status: { alice: 204, bob: 404, carol: 404, dana: 204 },
  },
  'DELETE /uploads/{id}': {
    send: (u, r, ids) =>
      r
        .delete(`/api/model-hub/uploads/${ids.uploads[u]}`)
        .set('Authorization', auth(u))
        .set('Tus-Resumable', '1.0.0'),
    status: { alice: 204, bob: 404, carol: 404, dana: 204 },
  },
  'GET /transfer/public-key': {
    // public: no credentials needed
    send: (_u, r) => r.get('/api/model-hub/transfer/public-key'),
    status: same(200),
  },
  'POST /transfer/export': {
    // v1 of the hidden model, approved by bob: model-hub.export only
    send: (u, r) =>
      r
        .post('/api/model-hub/transfer/export')
        .set('Authorization', auth(u))
        .send({ versions: [{ model: `default/${HIDDEN}`, version: 'v1' }] }),
    status: adminOnly(200),
  },
  'POST /transfer/import': {
    // allowed callers reach the bundle checks (not a tar: 400)
    send: (u, r) =>
      r
        .post('/api/model-hub/transfer/import')
        .set('Authorization', auth(u))
        .set('Content-Type', 'application/x-tar')
        .send(Buffer.alloc(1024, 1)),
    status: adminOnly(400),
  },
  'GET /models/{namespace}/{name}/versions/{label}/import-evidence': {
    send: (u, r) =>
      r.get(`${M}/versions/v1/import-evidence`).set('Authorization', auth(u)),
    status: readHidden(),
  },
  'POST /models/{namespace}/{name}/packages': {
    send: (u, r) =>
      r
        .post(`${M}/packages?label=pkg-${u}`)
        .set('Authorization', auth(u))
        .set('Content-Type', 'application/zip')
        .send(Buffer.from('not a zip')),
    // allowed callers reach the archive checks (not a ZIP: 400)
    status: ownerChange(400),
  },
};

/** The routes of the document, as `METHOD /path`. */
function documentedRoutes(): string[] {
  const doc = parseYaml(
    readFileSync(join(__dirname, '..', 'schema', 'openapi.yaml'), 'utf8'),
  ) as { paths: Record<string, Record<string, unknown>> };
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter(m => methods.includes(m))
      .map(m => `${m.toUpperCase()} ${path}`),
  );
}

describe('permission matrix of every route of openapi.yaml', () => {
  let hf: MockHfServer;
  const mockDir = createMockDirectory();

  beforeAll(async () => {
    hf = await createMockHfServer({ hub: createFixtureHub() });
  });
  afterAll(async () => {
    await hf.close();
  });

  it('has an expectation for every documented route', () => {
    const missing = documentedRoutes().filter(r => !MATRIX[r]);
    if (missing.length > 0) {
      throw new Error(
        `No permission expectation for ${missing.join(
          ', ',
        )}: add a line to MATRIX in src/service/permissionMatrix.test.ts`,
      );
    }
    // and no expectation for a route the document does not have
    const documented = new Set(documentedRoutes());
    expect(Object.keys(MATRIX).filter(r => !documented.has(r))).toEqual([]);
  });

  it('answers each user as the policy decides, and hides one model from carol', async () => {
    const { server } = await startTestBackend({
      features: [
        modelHubPlugin,
        permissionsFactory,
        userInfoFactory,
        catalogServiceMock.factory({ entities: [] }),
        mockServices.rootConfig.factory({
          data: {
            backend: { baseUrl: 'http://localhost:7007' },
            modelHub: {
              storage: { local: { path: join(mockDir.path, 'store') } },
              huggingface: { endpoint: hf.url, fetch: 'on-demand' },
              approvals: { requiredChecks: [] },
              transfer: { signingKey: TRANSFER_KEY },
            },
          },
        }),
      ],
    });
    const r = request.agent(server);
    const ok = async (test: request.Test, status: number) => {
      const res = await test;
      if (res.status !== status) {
        throw new Error(
          `setup: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
        );
      }
      return res;
    };

    // the hidden model: registered from the mock Hub by alice (her group
    // owns it), a version v1 with a file, approved by bob and active; v2
    // and v3 drafts
    const registered = await ok(
      r
        .post('/api/model-hub/huggingface/repos')
        .set('Authorization', auth('alice'))
        .send({ repoId: HIDDEN_REPO, owner: ENGINEERS }),
      202,
    );
    const jobId = registered.body.jobId as string;
    for (const label of ['v1', 'v2', 'v3']) {
      await ok(
        r
          .post(`${M}/versions`)
          .set('Authorization', auth('alice'))
          .send({ label }),
        201,
      );
      await ok(
        r
          .put(`${M}/versions/${label}/files/weights/model.safetensors`)
          .set('Authorization', auth('alice'))
          .set('Content-Type', 'application/octet-stream')
          .send(SAFETENSORS),
        201,
      );
    }
    await ok(
      r
        .post(`${M}/versions/v1/transitions`)
        .set('Authorization', auth('alice'))
        .send({ action: 'submit' }),
      200,
    );
    await ok(
      r
        .post(`${M}/versions/v1/transitions`)
        .set('Authorization', auth('bob'))
        .send({ action: 'approve' }),
      200,
    );
    // a visible model, for the lists
    await ok(
      r
        .post('/api/model-hub/models')
        .set('Authorization', auth('alice'))
        .send({ name: 'visible', owner: ENGINEERS, type: 'other' }),
      201,
    );
    const ids: Ids = {
      jobId,
      tokens: {} as Record<User, string>,
      uploads: {} as Record<User, string>,
    };
    for (const u of USERS) {
      const token = await ok(
        r
          .post('/api/model-hub/tokens')
          .set('Authorization', auth(u))
          .send({ name: `token of ${u}` }),
        201,
      );
      ids.tokens[u] = token.body.id;
    }

    const mismatches: string[] = [];
    const routes = documentedRoutes().filter(route => MATRIX[route]);
    for (const route of routes) {
      const { send, status } = MATRIX[route];
      for (const u of USERS) {
        const res = await send(u, r, ids);
        if (route === 'POST /uploads' && res.status === 201) {
          ids.uploads[u] = res.headers.location.split('/').pop()!;
        }
        if (route === 'POST /uploads' && res.status !== 201) {
          ids.uploads[u] = 'a'.repeat(32);
        }
        const expected = ([] as number[]).concat(status[u]);
        if (!expected.includes(res.status)) {
          mismatches.push(
            `${route} as ${u}: ${res.status}, expected ${expected.join(
              ' or ',
            )} ${JSON.stringify(res.body ?? '').slice(0, 160)}`,
          );
        }
      }
    }
    expect(mismatches).toEqual([]);

    // the lists: carol does not see the hidden model, its jobs, its repo
    const list = async (u: User, path: string) =>
      (
        await ok(
          r.get(`/api/model-hub${path}`).set('Authorization', auth(u)),
          200,
        )
      ).body;
    const names = (body: any) =>
      (body.items as any[]).map(m => m.name ?? m.modelRef ?? m.entityRef);
    expect(names(await list('carol', '/models'))).not.toContain(HIDDEN);
    expect(names(await list('bob', '/models'))).toContain(HIDDEN);
    expect((await list('carol', '/models')).totalCount).toBe(
      (await list('bob', '/models')).totalCount - 1,
    );
    const modelOf = `model:default/${HIDDEN}`;
    for (const path of ['/jobs', '/huggingface/repos', '/activity']) {
      expect(JSON.stringify(await list('carol', path))).not.toContain(modelOf);
      expect(JSON.stringify(await list('bob', path))).toContain(modelOf);
    }
    expect(JSON.stringify(await list('carol', '/entity-feed'))).not.toContain(
      HIDDEN,
    );
    expect((await list('carol', '/stats')).models).toBe(
      (await list('bob', '/stats')).models - 1,
    );
  });
});
