import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
// the real Model Hub backend, only in this integration test
// eslint-disable-next-line @backstage/no-mixed-plugin-imports
import modelHubPlugin from '@model-hub/backstage-plugin-model-hub-backend';
import { catalogModuleModelHub } from './catalogModuleModelHub';

// Acceptance: the real catalog reads a Model from a YAML file location; the
// real Model Hub backend reconciles it on a real scheduler with a short
// interval. A Model added, edited and removed in the YAML is reflected in
// the hub within one reconcile interval of the catalog holding the change.

jest.setTimeout(90_000);

const INTERVAL_MS = 2000;
/** One interval, plus the scheduler's poll and the run itself on a busy CI machine. */
const WITHIN_MS = INTERVAL_MS + 2500;

function modelYaml(fields: {
  owner: string;
  lifecycle: string;
  tags: string[];
  system?: string;
  title: string;
}) {
  return `apiVersion: model-hub.dev/v1alpha1
kind: Model
metadata:
  name: yaml-model
  title: ${fields.title}
  tags: [${fields.tags.join(', ')}]
spec:
  type: llm
  lifecycle: ${fields.lifecycle}
  owner: ${fields.owner}
${fields.system ? `  system: ${fields.system}\n` : ''}`;
}

const otherYaml = `apiVersion: model-hub.dev/v1alpha1
kind: Model
metadata:
  name: other-model
spec:
  type: embedding
  lifecycle: production
  owner: group:default/ml-team
`;

describe('catalog Models reconciled into the hub', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'model-hub-catalog-sync-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['with the catalog module reporting edits', true],
    ['by the scheduled reconcile alone', false],
  ])(
    'reflects a Model added, edited and removed in YAML within one reconcile interval, %s',
    async (_how, notify) => {
      const file = join(dir, `models-${notify}.yaml`);
      writeFileSync(file, otherYaml);
      const { server } = await startTestBackend({
        features: [
          catalogPlugin,
          catalogModuleModelHub,
          modelHubPlugin,
          // the real scheduler: the reconcile runs on its schedule
          schedulerServiceFactory,
          mockServices.permissions.factory({ result: 'ALLOW' as never }),
          mockServices.rootConfig.factory({
            data: {
              catalog: {
                rules: [{ allow: ['Model', 'Location'] }],
                locations: [{ type: 'file', target: file }],
                processingInterval: { seconds: 1 },
              },
              modelHub: {
                storage: { local: { path: join(dir, `store-${notify}`) } },
                catalogSync: {
                  notify,
                  schedule: {
                    frequency: { seconds: INTERVAL_MS / 1000 },
                    timeout: { minutes: 1 },
                  },
                },
              },
            },
          }),
        ],
      });
      const { port } = server.address() as { port: number };
      const base = `http://localhost:${port}/api`;
      const get = async (path: string) => {
        const res = await fetch(`${base}${path}`);
        const text = await res.text();
        return {
          status: res.status,
          body: text ? JSON.parse(text) : undefined,
        };
      };
      /** Polls until `fn` returns a value; the time it took in ms. */
      const within = async <T>(
        fn: () => Promise<T | undefined>,
        limitMs: number,
      ): Promise<{ value: T; ms: number }> => {
        const start = Date.now();
        for (;;) {
          const value = await fn();
          if (value !== undefined) {
            return { value, ms: Date.now() - start };
          }
          if (Date.now() - start > limitMs) {
            throw new Error(`not reflected within ${limitMs} ms`);
          }
          await new Promise(r => setTimeout(r, 100));
        }
      };
      const inCatalog = async (pred: (entity: any) => boolean) => {
        const r = await get(
          '/catalog/entities/by-name/model/default/yaml-model',
        );
        return r.status === 200 && pred(r.body) ? r.body : undefined;
      };
      const inHub = async (pred: (model: any) => boolean) => {
        const r = await get('/model-hub/models/default/yaml-model');
        return r.status === 200 && pred(r.body) ? r.body : undefined;
      };

      // the catalog holds the other model first: the hub has its row
      await within(
        async () =>
          (await get('/model-hub/models/default/other-model')).status === 200
            ? true
            : undefined,
        30_000,
      );
      expect((await get('/model-hub/models/default/yaml-model')).status).toBe(
        404,
      );

      // added
      writeFileSync(
        file,
        `${otherYaml}---\n${modelYaml({
          owner: 'group:default/ml-team',
          lifecycle: 'experimental',
          tags: ['chat'],
          title: 'YAML model',
        })}`,
      );
      await within(() => inCatalog(() => true), 30_000);
      const added = await within(() => inHub(() => true), WITHIN_MS);
      expect(added.value).toMatchObject({
        entityRef: 'model:default/yaml-model',
        title: 'YAML model',
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/ml-team',
        tags: ['chat'],
        origin: 'catalog',
      });
      expect(added.value.orphanedAt).toBeUndefined();

      // edited: owner, lifecycle, tags, system and title flow into the hub
      writeFileSync(
        file,
        `${otherYaml}---\n${modelYaml({
          owner: 'group:default/ml-platform',
          lifecycle: 'production',
          tags: ['chat', 'support'],
          system: 'assistants',
          title: 'YAML model v2',
        })}`,
      );
      await within(
        () => inCatalog(e => e.spec.owner === 'group:default/ml-platform'),
        30_000,
      );
      const edited = await within(
        () => inHub(m => m.owner === 'group:default/ml-platform'),
        WITHIN_MS,
      );
      expect(edited.value).toMatchObject({
        title: 'YAML model v2',
        lifecycle: 'production',
        tags: ['chat', 'support'],
        system: 'system:default/assistants',
      });

      // removed: the hub model is orphaned (kept, visible, read-only)
      writeFileSync(file, otherYaml);
      await within(
        () =>
          inCatalog(
            e => e.metadata.annotations?.['backstage.io/orphan'] === 'true',
          ).then(
            async orphan =>
              orphan ??
              ((
                await get('/catalog/entities/by-name/model/default/yaml-model')
              ).status === 404
                ? true
                : undefined),
          ),
        30_000,
      );
      const removed = await within(() => inHub(m => !!m.orphanedAt), WITHIN_MS);
      expect(removed.value).toMatchObject({
        entityRef: 'model:default/yaml-model',
        origin: 'catalog',
        orphanedAt: expect.any(String),
      });
      // read-only: no new versions
      const res = await fetch(
        `${base}/model-hub/models/default/yaml-model/versions`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ label: 'v1' }),
        },
      );
      expect(res.status).toBe(409);
      // the other model is untouched
      expect(
        (await get('/model-hub/models/default/other-model')).body.orphanedAt,
      ).toBeUndefined();
      // the reconcile state is in the database
      expect((await get('/model-hub/catalog-sync')).body).toMatchObject({
        lastCompletedAt: expect.any(String),
        lastResult: expect.objectContaining({ orphaned: expect.any(Number) }),
      });
    },
  );
});
