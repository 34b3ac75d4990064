import { writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { authServiceFactory } from '@backstage/backend-defaults/auth';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import { userInfoServiceFactory } from '@backstage/backend-defaults/userInfo';
import {
  createMockDirectory,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import authPlugin from '@backstage/plugin-auth-backend';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import permissionPlugin from '@backstage/plugin-permission-backend';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import modelHubPlugin from '@model-hub/backstage-plugin-model-hub-backend';
import { authModuleDevHeaderProvider, DEV_USER_HEADER } from './devHeaderAuth';
import { authModuleModelHubTokenIdentity } from './modelHubTokenIdentity';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();
const ENGINEERS = 'group:default/ml-engineers';

/** The org in the catalog: alice in ml-engineers (or not), dana an admin. */
function org(aliceInEngineers: boolean) {
  return `
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: ml-engineers }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: ml-admins }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: alice }
spec: { memberOf: [${aliceInEngineers ? 'ml-engineers' : ''}] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: dana }
spec: { memberOf: [ml-admins] }
`;
}

/** Downloads only for ml-engineers; everything else allowed. */
const testPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'token-test-policy',
  register(reg) {
    reg.registerInit({
      deps: {
        policy: policyExtensionPoint,
        userInfo: coreServices.userInfo,
      },
      async init({ policy, userInfo }) {
        policy.setPolicy({
          async handle(request, user) {
            if (request.permission.name !== 'model-hub.artifact.download') {
              return { result: AuthorizeResult.ALLOW };
            }
            if (!user) {
              return { result: AuthorizeResult.DENY };
            }
            const { ownershipEntityRefs } = await userInfo.getUserInfo(
              user.credentials,
            );
            return {
              result: ownershipEntityRefs.includes(ENGINEERS)
                ? AuthorizeResult.ALLOW
                : AuthorizeResult.DENY,
            };
          },
        });
      },
    });
  },
});

describe('personal hf_ tokens with the real auth, catalog and permission backends', () => {
  it('stop working once their owner leaves the group the policy asks for', async () => {
    const orgFile = mockDir.resolve('org.yaml');
    writeFileSync(orgFile, org(true));
    const backend = await startTestBackend({
      features: [
        authPlugin,
        authModuleDevHeaderProvider,
        authModuleModelHubTokenIdentity,
        catalogPlugin,
        permissionPlugin,
        testPolicy,
        modelHubPlugin,
        authServiceFactory,
        httpAuthServiceFactory,
        userInfoServiceFactory,
        permissionsServiceFactory,
        mockServices.rootConfig.factory({
          data: {
            app: { baseUrl: 'http://localhost:3000' },
            permission: { enabled: true },
            auth: {
              environment: 'development',
              providers: { 'dev-header': {}, 'model-hub-token-identity': {} },
            },
            catalog: {
              processingInterval: { seconds: 1 },
              locations: [
                {
                  type: 'file',
                  target: orgFile,
                  rules: [{ allow: ['User', 'Group'] }],
                },
              ],
            },
            modelHub: {
              devAuth: { enabled: true },
              storage: { local: { path: mockDir.resolve('store') } },
              // a short reuse of decisions, so the test is quick; the
              // default and the maximum is 60 s
              mirror: { tokens: { decisionCacheSeconds: 2 } },
            },
          },
        }),
      ],
    });
    try {
      const { port } = backend.server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}/api`;
      const trySignIn = async (name: string) => {
        const res = await fetch(`${base}/auth/dev-header/refresh`, {
          headers: { [DEV_USER_HEADER]: name },
        });
        if (res.status !== 200) {
          return undefined;
        }
        const body = await res.json();
        return `Bearer ${body.backstageIdentity.token}`;
      };
      const signIn = async (name: string) => {
        const as = await trySignIn(name);
        expect(as).toBeDefined();
        return as!;
      };
      const memberOf = async (as: string) => {
        const res = await fetch(
          `${base}/catalog/entities/by-name/user/default/alice`,
          { headers: { Authorization: as } },
        );
        if (res.status !== 200) {
          return undefined;
        }
        const entity = await res.json();
        return (entity.relations ?? [])
          .filter((r: any) => r.type === 'memberOf')
          .map((r: any) => r.targetRef);
      };
      const waitFor = async (what: () => Promise<boolean>, ms: number) => {
        const deadline = Date.now() + ms;
        while (!(await what())) {
          if (Date.now() > deadline) {
            throw new Error(`timed out after ${ms} ms`);
          }
          await new Promise(r => setTimeout(r, 200));
        }
      };

      // the catalog has processed the org
      await waitFor(async () => {
        const as = await trySignIn('alice');
        return (as && (await memberOf(as))?.includes(ENGINEERS)) ?? false;
      }, 30_000);
      const alice = await signIn('alice');
      const dana = await signIn('dana');

      // alice uploads a model, dana approves it
      const call = (as: string, method: string, path: string, body?: any) =>
        fetch(`${base}/model-hub${path}`, {
          method,
          headers: {
            Authorization: as,
            'Content-Type':
              typeof body === 'string'
                ? 'application/octet-stream'
                : 'application/json',
          },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
      expect(
        (
          await call(alice, 'POST', '/models', {
            name: 'tiny',
            type: 'llm',
            owner: 'user:default/alice',
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await call(alice, 'POST', '/models/default/tiny/versions', {
            label: 'v1',
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await call(
            alice,
            'PUT',
            '/models/default/tiny/versions/v1/files/config.json',
            '{"model_type":"gpt2"}',
          )
        ).status,
      ).toBe(201);
      const transition = (as: string, action: string) =>
        call(as, 'POST', '/models/default/tiny/versions/v1/transitions', {
          action,
        });
      expect((await transition(alice, 'submit')).status).toBe(200);
      expect((await transition(dana, 'approve')).status).toBe(200);

      // alice's token downloads while she is in ml-engineers
      const created = await call(alice, 'POST', '/tokens', { name: 'ci' });
      expect(created.status).toBe(201);
      const { token, id } = await created.json();
      const download = () =>
        fetch(`${base}/model-hub/hf/default/tiny/resolve/main/config.json`, {
          headers: { Authorization: `Bearer ${token}` },
        });
      const first = await download();
      expect(first.status).toBe(200);
      expect(await first.text()).toBe('{"model_type":"gpt2"}');

      // alice leaves the group, in the catalog
      const removedAt = Date.now();
      writeFileSync(orgFile, org(false));
      await waitFor(
        async () => !(await memberOf(dana))?.includes(ENGINEERS),
        30_000,
      );
      // her token stops within the reuse time of decisions (at most 60 s)
      let status = 0;
      await waitFor(async () => {
        status = (await download()).status;
        return status !== 200;
      }, 30_000);
      expect(status).toBe(403);
      expect(Date.now() - removedAt).toBeLessThan(60_000);
      // the token itself is not revoked: it follows the policy again
      // should she rejoin
      const list = await call(alice, 'GET', '/tokens');
      expect((await list.json()).items.map((t: any) => t.id)).toEqual([id]);
    } finally {
      await backend.stop();
    }
  });
});
