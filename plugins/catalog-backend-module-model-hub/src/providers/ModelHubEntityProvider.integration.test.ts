import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  MockHfServer,
} from '@model-hub/mock-hf-server';
// the real Model Hub backend, only in this integration test
// eslint-disable-next-line @backstage/no-mixed-plugin-imports
import modelHubPlugin from '@model-hub/backstage-plugin-model-hub-backend';
import { catalogModuleModelHub } from '../module';

// The real catalog with this module, the real Model Hub backend syncing
// from a mock Hugging Face Hub: the provider's entities appear in the
// catalog, and deltas add and remove them.

jest.setTimeout(120_000);

describe('ModelHubEntityProvider in a real catalog', () => {
  let hf: MockHfServer;
  let dir: string;

  beforeAll(async () => {
    hf = await createMockHfServer({ hub: createFixtureHub() });
    dir = mkdtempSync(join(tmpdir(), 'model-hub-provider-'));
  });

  afterAll(async () => {
    await hf.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('emits hub models as Model entities, with delta additions and removals', async () => {
    const scheduler = mockServices.scheduler() as any;
    const { server } = await startTestBackend({
      features: [
        catalogPlugin,
        catalogModuleModelHub,
        modelHubPlugin,
        scheduler.factory(),
        // allow everything (AuthorizeResult.ALLOW)
        mockServices.permissions.factory({ result: 'ALLOW' as never }),
        mockServices.rootConfig.factory({
          data: {
            modelHub: {
              storage: { local: { path: join(dir, 'store') } },
              huggingface: { endpoint: hf.url, fetch: 'on-demand' },
            },
            catalog: { providers: { modelHub: { pageSize: 1 } } },
          },
        }),
      ],
    });
    const { port } = server.address() as { port: number };
    const base = `http://localhost:${port}/api`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: body ? { 'Content-Type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const waitFor = async <T,>(fn: () => Promise<T | undefined>): Promise<T> => {
      for (let i = 0; i < 300; i++) {
        const v = await fn();
        if (v !== undefined) return v;
        await new Promise(r => setTimeout(r, 100));
      }
      throw new Error('timed out');
    };
    const entity = (name: string) =>
      call('GET', `/catalog/entities/by-name/model/default/${name}`);

    // an uploaded model and a model synced from Hugging Face
    expect(
      (
        await call('POST', '/model-hub/models', {
          name: 'uploaded-model',
          owner: 'group:default/ml-team',
          type: 'embedding',
          tags: ['in-house'],
        })
      ).status,
    ).toBe(201);
    const registered = await call('POST', '/model-hub/huggingface/repos', {
      repoId: FIXTURE_REPOS.tinyLlm,
      owner: 'group:default/ml-team',
    });
    expect(registered.status).toBe(202);
    // the worker runs the sync job
    await waitFor(async () => {
      const jobs = await call('GET', `/model-hub/jobs/${registered.body.jobId}`);
      return jobs.body.state === 'succeeded' ? true : undefined;
    });

    await scheduler.triggerTask('model-hub-provider:default:refresh');
    const synced = await waitFor(async () => {
      const r = await entity('acme--tiny-llm');
      return r.status === 200 ? r.body : undefined;
    });
    expect(synced).toMatchObject({
      apiVersion: 'model-hub.dev/v1alpha1',
      kind: 'Model',
      metadata: {
        name: 'acme--tiny-llm',
        annotations: expect.objectContaining({
          'huggingface.co/repo-id': 'acme/tiny-llm',
          'backstage.io/managed-by-location': expect.stringMatching(
            /^url:http.*\/api\/model-hub\/models\/default\/acme--tiny-llm$/,
          ),
          'backstage.io/managed-by-origin-location': expect.stringMatching(
            /^url:http.*\/api\/model-hub\/models\/default\/acme--tiny-llm$/,
          ),
          'model-hub.dev/upstream-drift': 'false',
        }),
      },
      spec: {
        type: 'llm',
        owner: 'group:default/ml-team',
        task: 'text-generation',
        license: 'apache-2.0',
        format: 'safetensors',
        source: { huggingface: { repo: 'acme/tiny-llm', revision: 'main' } },
        baseModels: ['acme--tiny-llm-base'],
      },
    });
    expect(synced.metadata.tags).toEqual(expect.arrayContaining(['huggingface', 'llama']));
    for (const tag of synced.metadata.tags) {
      expect(tag).toMatch(/^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$/);
    }
    const uploaded = await waitFor(async () => {
      const r = await entity('uploaded-model');
      return r.status === 200 ? r.body : undefined;
    });
    expect(uploaded).toMatchObject({
      metadata: { tags: ['in-house'] },
      spec: { type: 'embedding', source: 'upload' },
    });
    expect(uploaded.metadata.annotations['huggingface.co/repo-id']).toBeUndefined();

    // a new model arrives with a delta
    await call('POST', '/model-hub/models', {
      name: 'later-model',
      owner: 'group:default/ml-team',
      type: 'other',
    });
    await scheduler.triggerTask('model-hub-provider:default:delta');
    await waitFor(async () =>
      (await entity('later-model')).status === 200 ? true : undefined,
    );

    // a removed registration (with its model) is removed with a delta
    expect(
      (await call('DELETE', '/model-hub/huggingface/repos/acme/tiny-llm?deleteModel=true'))
        .status,
    ).toBe(204);
    await scheduler.triggerTask('model-hub-provider:default:delta');
    await waitFor(async () =>
      (await entity('acme--tiny-llm')).status === 404 ? true : undefined,
    );
    expect((await entity('uploaded-model')).status).toBe(200);
  });
});
