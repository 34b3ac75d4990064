import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  MockHfServer,
} from '@model-hub/mock-hf-server';
import { Knex } from 'knex';
import request from 'supertest';
import { modelHubPlugin } from '../plugin';
import { createHubEnv } from './__testUtils__/hubEnv';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

// two teams: alice in ml-engineers, erin in vision-team; bob reviews
const ALICE = 'user:default/alice';
const ERIN = 'user:default/erin';
const BOB = 'user:default/bob';
const GROUPS: Record<string, string[]> = {
  [ALICE]: ['group:default/ml-engineers'],
  [ERIN]: ['group:default/vision-team'],
  [BOB]: ['group:default/ml-reviewers'],
};
/** Permissions a member of the model's owning group holds on it. */
const OWNER_PERMISSIONS = new Set([
  'model-hub.sync.trigger',
  'model-hub.version.create',
  'model-hub.artifact.upload',
]);

const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});

/**
 * The whole plugin (sync workers, mirror, approvals) on a real database,
 * with the mock Hub upstream and a policy that scopes model permissions to
 * the owning team.
 */
async function startBackend(knex: Knex, hubUrl: string, dir: string) {
  const ownerOf = async (ref?: string) =>
    ref
      ? (await knex('models').where({ entity_ref: ref }).first('owner'))?.owner
      : undefined;
  const decide = async (user: string, permission: string, ref?: string) => {
    if (permission === 'model-hub.admin') {
      return AuthorizeResult.DENY;
    }
    if (permission === 'model-hub.model.create') {
      return user === ALICE || user === ERIN
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY;
    }
    if (
      permission === 'model-hub.version.approve' ||
      permission === 'model-hub.version.review'
    ) {
      return user === BOB ? AuthorizeResult.ALLOW : AuthorizeResult.DENY;
    }
    if (OWNER_PERMISSIONS.has(permission)) {
      const owner = await ownerOf(ref);
      return owner && GROUPS[user]?.includes(owner)
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY;
    }
    return AuthorizeResult.ALLOW;
  };
  const userOf = (credentials: any) =>
    credentials?.principal?.userEntityRef ?? 'none';
  const permissions = mockServices.permissions.mock({
    authorize: (async (requests: any[], opts: any) =>
      Promise.all(
        requests.map(async r => ({
          result: await decide(
            userOf(opts.credentials),
            r.permission.name,
            r.resourceRef,
          ),
        })),
      )) as any,
    // as a portal policy: the owner-scoped permissions are conditional on
    // owning the model, applied by the hub's decision path
    authorizeConditional: (async (requests: any[], opts: any) => {
      const user = userOf(opts.credentials);
      return Promise.all(
        requests.map(async r =>
          OWNER_PERMISSIONS.has(r.permission.name)
            ? createCatalogConditionalDecision(
                r.permission,
                catalogConditions.isEntityOwner({
                  claims: [user, ...(GROUPS[user] ?? [])],
                }),
              )
            : { result: await decide(user, r.permission.name) },
        ),
      );
    }) as any,
  });
  const userInfo = mockServices.userInfo.mock({
    getUserInfo: async (credentials: any) => ({
      userEntityRef: userOf(credentials),
      ownershipEntityRefs: [
        userOf(credentials),
        ...(GROUPS[userOf(credentials)] ?? []),
      ],
    }),
  });
  const backend = await startTestBackend({
    features: [
      modelHubPlugin,
      mockServices.rootConfig.factory({
        data: {
          modelHub: {
            storage: { local: { path: join(dir, 'store') } },
            huggingface: {
              endpoint: hubUrl,
              fetch: 'on-demand',
              // the fixture's ONNX files are placeholders that fail inspection
              exclude: ['*.onnx'],
              downloadDir: join(dir, 'downloads'),
            },
          },
        },
      }),
      mockServices.database.factory({ knex }),
      mockServices.httpAuth.factory({
        defaultCredentials: mockCredentials.none(),
      }),
      mockServices.scheduler.factory({ skipTaskRunOnStartup: true }),
      permissions.factory,
      userInfo.factory,
      catalogServiceMock.factory({ entities: [] }),
    ],
  });
  const api = '/api/model-hub';
  const server = backend.server;

  async function waitForJob(id: string) {
    for (let i = 0; i < 400; i++) {
      const job = await knex('jobs').where({ id }).first();
      if (job && ['succeeded', 'failed', 'cancelled'].includes(job.state)) {
        return job;
      }
      await new Promise(r => setTimeout(r, 50));
    }
    throw new Error(`Job ${id} did not finish`);
  }

  /** alice submits, bob approves. */
  async function approve(model: string, label: string, submitter: string) {
    const base = `${api}/models/${model}/versions/${label}/transitions`;
    const submitted = await request(server)
      .post(base)
      .set(as(submitter))
      .send({ action: 'submit' });
    expect(submitted.body.error?.message).toBeUndefined();
    await request(server)
      .post(base)
      .set(as(BOB))
      .send({ action: 'approve' })
      .expect(200);
  }

  return { backend, server, api, waitForJob, approve };
}

describe.each(databases.eachSupportedId())(
  'identity of registered Hugging Face repos, two teams (%s)',
  databaseId => {
    let hf: MockHfServer;
    let dir: string;

    beforeEach(async () => {
      hf = await createMockHfServer({ hub: createFixtureHub() });
      dir = mkdtempSync(join(tmpdir(), 'hf-identity-'));
    });

    afterEach(async () => {
      await hf.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('acts only on the model that holds a repo, answers 409 naming it, and serves the registered repo in the mirror', async () => {
      const knex = await databases.init(databaseId);
      const { backend, server, api, waitForJob, approve } = await startBackend(
        knex,
        hf.url,
        dir,
      );
      try {
        // erin's team names acme/tiny-llm as the source of its model before
        // anyone registered it
        await request(server)
          .post(`${api}/models`)
          .set(as(ERIN))
          .send({
            name: 'erin-llm',
            type: 'llm',
            owner: 'group:default/vision-team',
            source: { huggingface: { repo: FIXTURE_REPOS.tinyLlm } },
          })
          .expect(201);

        // alice registers it for ml-engineers; the worker syncs it
        const registered = await request(server)
          .post(`${api}/huggingface/repos`)
          .set(as(ALICE))
          .send({
            repoId: FIXTURE_REPOS.tinyLlm,
            owner: 'group:default/ml-engineers',
          })
          .expect(202);
        const aliceRef = 'model:default/acme--tiny-llm';
        expect(registered.body.model.entityRef).toBe(aliceRef);
        expect((await waitForJob(registered.body.jobId)).state).toBe(
          'succeeded',
        );
        const snapshot = async () => ({
          model: await knex('models').where({ entity_ref: aliceRef }).first(),
          versions: await knex('model_versions')
            .join('models', 'models.id', 'model_versions.model_id')
            .where('models.entity_ref', aliceRef)
            .select('model_versions.label', 'model_versions.state')
            .orderBy('model_versions.label'),
          jobs: await knex('jobs').count({ n: '*' }).first(),
          repos: await knex('hf_repos').select('repo_id', 'model_id'),
        });
        const before = await snapshot();
        const { last_synced_commit: commit } = await knex('hf_repos').first(
          'last_synced_commit',
        );
        const label = `hf-${commit.slice(0, 12)}`;
        expect(before.versions).toEqual([{ label, state: 'draft' }]);

        // erin's sync of her model does not touch alice's
        const sync = await request(server)
          .post(`${api}/models/default/erin-llm/sync`)
          .set(as(ERIN))
          .send({ revision: 'v1.0' });
        expect(sync.status).toBe(409);
        expect(sync.body.error.message).toBe(
          `The Hugging Face repo acme/tiny-llm is registered as ${aliceRef}; model:default/erin-llm cannot sync it`,
        );
        // nor can erin download into alice's model
        await request(server)
          .post(`${api}/huggingface/repos/acme/tiny-llm/download`)
          .set(as(ERIN))
          .send({})
          .expect(403);
        expect(await snapshot()).toEqual(before);

        // erin cannot name the repo as a source, whatever its case
        const claim = await request(server)
          .post(`${api}/models`)
          .set(as(ERIN))
          .send({
            name: 'erin-llm-2',
            type: 'llm',
            owner: 'group:default/vision-team',
            source: { huggingface: { repo: 'ACME/Tiny-LLM' } },
          });
        expect(claim.status).toBe(409);
        expect(claim.body.error.message).toBe(
          `The Hugging Face repo acme/tiny-llm is registered as ${aliceRef}; another model cannot name it as its source`,
        );
        // nor take the repo id as namespace/name
        const squat = await request(server)
          .post(`${api}/models`)
          .set(as(ERIN))
          .send({
            namespace: 'acme',
            name: 'tiny-llm',
            type: 'llm',
            owner: 'group:default/vision-team',
          });
        expect(squat.status).toBe(409);
        expect(squat.body.error.message).toBe(
          `acme/tiny-llm is the id of the Hugging Face repo acme/tiny-llm, registered as ${aliceRef}; choose another namespace or name`,
        );
        // nor register a repo whose id is an existing namespace/name
        await request(server)
          .post(`${api}/models`)
          .set(as(ERIN))
          .send({
            namespace: 'acme',
            name: 'mini-embed',
            type: 'embedding',
            owner: 'group:default/vision-team',
          })
          .expect(201);
        const taken = await request(server)
          .post(`${api}/huggingface/repos`)
          .set(as(ALICE))
          .send({
            repoId: FIXTURE_REPOS.embedding,
            owner: 'group:default/ml-engineers',
          });
        expect(taken.status).toBe(409);
        expect(taken.body.error.message).toBe(
          'acme/mini-embed is the namespace and name of the model model:acme/mini-embed; it cannot be registered',
        );
        expect(
          await knex('models').where({
            entity_ref: 'model:default/acme--mini-embed',
          }),
        ).toEqual([]);
        expect(await snapshot()).toEqual(before);

        // alice downloads into her own model
        const download = await request(server)
          .post(`${api}/huggingface/repos/acme/tiny-llm/download`)
          .set(as(ALICE))
          .send({})
          .expect(202);
        const job = await waitForJob(download.body.jobId);
        expect(job.state).toBe('succeeded');
        expect(job.model_id).toBe(before.model.id);

        // a model named acme/tiny-llm left from before these checks (legacy
        // data) never stands in for the registered repo in the mirror
        const erinModel = await knex('models')
          .where({ entity_ref: 'model:default/erin-llm' })
          .first();
        await knex('models').insert({
          ...erinModel,
          id: '00000000-0000-4000-8000-00000000beef',
          entity_ref: 'model:acme/tiny-llm',
          namespace: 'acme',
          name: 'tiny-llm',
          source: JSON.stringify('upload'),
          source_type: 'upload',
        });
        await request(server)
          .post(`${api}/models/acme/tiny-llm/versions`)
          .set(as(ERIN))
          .send({ label: 'v1' })
          .expect(201);
        await request(server)
          .put(`${api}/models/acme/tiny-llm/versions/v1/files/config.json`)
          .set(as(ERIN))
          .set('Content-Type', 'application/octet-stream')
          .send(Buffer.from('{"model_type":"squatter"}'))
          .expect(201);
        await approve('acme/tiny-llm', 'v1', ERIN);
        await approve('default/acme--tiny-llm', label, ALICE);

        const info = await request(server)
          .get(`${api}/hf/api/models/acme/tiny-llm`)
          .set(as(ALICE))
          .expect(200);
        expect(info.body.sha).toBe(commit);
        const config = await request(server)
          .get(`${api}/hf/acme/tiny-llm/resolve/main/config.json`)
          .set(as(ALICE))
          .buffer(true)
          .parse((res, cb) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => cb(null, Buffer.concat(chunks)));
          })
          .expect(200);
        expect(JSON.parse(config.body.toString('utf8')).model_type).toBe(
          'llama',
        );
        // the squatter stays reachable only under its portal ref elsewhere
        expect(
          (await knex('hf_repos').select('repo_id', 'model_id')).map(
            r => r.model_id,
          ),
        ).toEqual([before.model.id]);
      } finally {
        await backend.stop();
      }
    });

    it('a sync job of a model acts only on the repo that model holds', async () => {
      const knex = await databases.init(databaseId);
      const env = await createHubEnv(knex, { endpoint: hf.url });
      try {
        const registered = await env.sync.register({
          repoId: FIXTURE_REPOS.tinyLlm,
          revision: 'main',
          owner: 'group:default/ml-engineers',
          createdBy: ALICE,
        });
        await env.sync.syncRepo({
          repoId: FIXTURE_REPOS.tinyLlm,
          modelId: registered.model.id,
        });
        const aliceModel = await knex('models')
          .where({ id: registered.model.id })
          .first();
        // a model of the other team created with that source before the
        // checks existed, whose sync job was queued by then
        const erin = await env.store.createModel({
          namespace: 'default',
          name: 'erin-llm',
          type: 'vision',
          lifecycle: 'experimental',
          owner: 'group:default/vision-team',
          sourceType: 'huggingface',
          source: { huggingface: { repo: FIXTURE_REPOS.embedding } },
          tags: [],
          createdBy: ERIN,
        });
        await expect(
          env.sync.syncRepo({
            repoId: FIXTURE_REPOS.tinyLlm,
            revision: 'v1.0',
            modelId: erin.id,
          }),
        ).rejects.toThrow(
          'The Hugging Face repo acme/tiny-llm is registered as model:default/acme--tiny-llm; another model cannot sync it',
        );
        expect(
          await knex('models').where({ id: registered.model.id }).first(),
        ).toEqual(aliceModel);
        expect(
          await knex('model_versions').where({ model_id: erin.id }),
        ).toEqual([]);
        expect(
          (await knex('hf_repos').select('model_id')).map(r => r.model_id),
        ).toEqual([registered.model.id]);

        // the repo of its own source, held by nobody, becomes its own
        await env.sync.syncRepo({
          repoId: FIXTURE_REPOS.embedding,
          modelId: erin.id,
        });
        expect(
          await knex('hf_repos').where({ model_id: erin.id }).first('repo_id'),
        ).toEqual({ repo_id: FIXTURE_REPOS.embedding });
      } finally {
        env.cleanup();
      }
    });
  },
);
