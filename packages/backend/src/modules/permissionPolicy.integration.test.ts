import { join } from 'node:path';
import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import {
  createMockDirectory,
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import permissionPlugin from '@backstage/plugin-permission-backend';
import catalogModuleModelHub from '@model-hub/backstage-plugin-catalog-backend-module-model-hub';
import modelHubPlugin from '@model-hub/backstage-plugin-model-hub-backend';
import request from 'supertest';
import { permissionModuleModelHubDemoPolicy } from './permissionPolicy';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();

const org: Record<string, string[]> = {
  'user:default/alice': ['group:default/ml-engineers'],
  'user:default/bob': ['group:default/ml-reviewers'],
  'user:default/carol': [],
  'user:default/dana': ['group:default/ml-admins'],
};

// As the auth backend's sign-in resolvers do: the user and their groups.
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

// The mock auth service turns a plugin-to-plugin token on behalf of a user
// into plain user credentials, which the permission backend takes for a
// direct user request. Real tokens carry the calling plugin as the actor;
// this wrapper does the same, so that conditional decisions work as in a
// real backend.
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

const as = (name: string) =>
  mockCredentials.user.header(`user:default/${name}`);

describe('demo permission policy, end to end', () => {
  it('lets alice upload to the ml-engineers model, not carol or bob', async () => {
    const { server } = await startTestBackend({
      features: [
        catalogPlugin,
        catalogModuleModelHub,
        permissionPlugin,
        permissionModuleModelHubDemoPolicy,
        modelHubPlugin,
        permissionsServiceFactory,
        authFactory,
        httpAuthServiceFactory,
        userInfoFactory,
        mockServices.rootConfig.factory({
          data: {
            permission: { enabled: true },
            catalog: {
              processingInterval: { seconds: 1 },
              locations: [
                {
                  type: 'file',
                  target: join(__dirname, '__fixtures__', 'demo-models.yaml'),
                  rules: [{ allow: ['Model'] }],
                },
              ],
            },
            modelHub: {
              storage: { local: { path: join(mockDir.path, 'store') } },
              // the test's files are placeholders, not valid model files:
              // no inspection checks required (the default requires them)
              approvals: { requiredChecks: [] },
            },
          },
        }),
      ],
    });

    // wait for the catalog to process the models
    let processed = false;
    for (let i = 0; i < 100 && !processed; i++) {
      const res = await request(server)
        .get('/api/catalog/entities/by-name/model/default/llama')
        .set('Authorization', as('carol'));
      processed = res.status === 200 && res.body.relations?.length > 0;
      if (!processed) {
        await new Promise(r => setTimeout(r, 200));
      }
    }
    expect(processed).toBe(true);

    const files = '/api/model-hub/models/default/llama/versions/v1/files';
    // carol (no group) may not create a version; alice (ml-engineers) may
    await request(server)
      .post('/api/model-hub/models/default/llama/versions')
      .set('Authorization', as('carol'))
      .send({ label: 'v1' })
      .expect(403);
    await request(server)
      .post('/api/model-hub/models/default/llama/versions')
      .set('Authorization', as('alice'))
      .send({ label: 'v1' })
      .expect(201);

    await request(server)
      .put(`${files}/model.safetensors`)
      .set('Authorization', as('alice'))
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('weights'))
      .expect(201);
    for (const name of ['carol', 'bob']) {
      await request(server)
        .put(`${files}/other.safetensors`)
        .set('Authorization', as(name))
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('weights'))
        .expect(403);
    }

    // a draft downloads only for its owners, reviewers and admins
    for (const name of ['alice', 'bob', 'dana']) {
      await request(server)
        .get(`${files}/model.safetensors`)
        .set('Authorization', as(name))
        .expect(200);
    }
    await request(server)
      .get(`${files}/model.safetensors`)
      .set('Authorization', as('carol'))
      .expect(403);

    // alice submits, bob approves; alice may not approve her own version
    const transition = (name: string, action: string) =>
      request(server)
        .post('/api/model-hub/models/default/llama/versions/v1/transitions')
        .set('Authorization', as(name))
        .send({ action });
    await transition('alice', 'submit').expect(200);
    await transition('alice', 'approve').expect(403);
    await transition('carol', 'approve').expect(403);
    await transition('bob', 'approve').expect(200);

    // once approved, everyone signed in reads and downloads
    for (const name of ['alice', 'bob', 'carol', 'dana']) {
      const res = await request(server)
        .get(`${files}/model.safetensors`)
        .set('Authorization', as(name))
        .expect(200);
      expect(res.headers.etag).toMatch(/^"[a-f0-9]{64}"$/);
      await request(server)
        .get('/api/model-hub/models')
        .set('Authorization', as(name))
        .expect(200);
    }
    await request(server)
      .get(`${files}/model.safetensors`)
      .set('Authorization', mockCredentials.none.header())
      .expect(401);

    // alice may not touch a model another group owns; dana may
    await request(server)
      .post('/api/model-hub/models/default/other/versions')
      .set('Authorization', as('alice'))
      .send({ label: 'v1' })
      .expect(403);
    await request(server)
      .post('/api/model-hub/models/default/other/versions')
      .set('Authorization', as('dana'))
      .send({ label: 'v1' })
      .expect(201);
  });
});
