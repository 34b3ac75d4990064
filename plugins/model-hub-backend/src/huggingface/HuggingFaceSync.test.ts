import { TestDatabases } from '@backstage/backend-test-utils';
import {
  createFixtureHub,
  createMockHfServer,
  FIXTURE_REPOS,
  FIXTURE_TOKENS,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { createHubEnv } from './__testUtils__/hubEnv';
import { versionLabelOf } from './HuggingFaceSync';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const NESTED = 'acme/nested-model';

function addNestedRepo(hub: MockHub) {
  hub.addRepo({
    id: NESTED,
    cardData: {
      license: 'mit',
      base_model: 'acme/tiny-llm',
      datasets: ['acme/corpus'],
      pipeline_tag: 'text-generation',
      library_name: 'transformers',
      tags: ['Nested_Folders', 'mock', 'Not A Valid Tag!!'],
    },
    config: { architectures: ['LlamaForCausalLM'], model_type: 'llama' },
    files: [
      { path: 'model.safetensors', content: { size: 4096, seed: 'w' } },
      { path: 'a/one.txt', content: 'one\n' },
      { path: 'a/b/two.txt', content: 'two\n' },
      { path: 'a/b/c/three.json', content: '{"n":3}\n' },
      { path: 'a/b/c/d/four.bin', content: { size: 1000, seed: 'four' } },
      { path: 'e/five.txt', content: 'five\n' },
    ],
  });
}

describe.each(databases.eachSupportedId())('HuggingFaceSync (%s)', id => {
  let server: MockHfServer;
  let hub: MockHub;

  beforeEach(async () => {
    hub = createFixtureHub();
    addNestedRepo(hub);
    // several tree pages for every listing
    hub.setPageSize({ tree: 3 });
    server = await createMockHfServer({ hub });
  });

  afterEach(async () => {
    await server.close();
  });

  async function env(token?: string) {
    const knex = await databases.init(id);
    return createHubEnv(knex, { endpoint: server.url, token });
  }

  it('syncs a repo with nested folders over several tree pages', async () => {
    const e = await env();
    const { model, jobId } = await e.sync.register({
      repoId: NESTED,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    expect(model.entityRef).toBe('model:default/acme--nested-model');
    expect(jobId).toEqual(expect.any(String));

    const result = await e.sync.syncRepo({ repoId: NESTED });
    const sha = hub.headSha(NESTED);
    expect(result.commit).toBe(sha);
    expect(result.files).toBe(8); // 6 files + README.md + config.json

    const repo = (await e.hfStore.getRepo({ repoId: NESTED }))!;
    expect(repo).toMatchObject({
      syncState: 'synced',
      lastSyncedCommit: sha,
      upstreamCommit: sha,
      drift: false,
    });
    const files = await e.hfStore.listFiles(repo.id);
    expect(files.map(f => f.path)).toEqual(
      expect.arrayContaining([
        'a/b/c/d/four.bin',
        'a/b/c/three.json',
        'a/b/two.txt',
        'a/one.txt',
        'e/five.txt',
        'model.safetensors',
        'config.json',
        'README.md',
      ]),
    );
    expect(files).toHaveLength(result.files);
    const weights = files.find(f => f.path === 'model.safetensors')!;
    expect(weights.lfsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(weights.size).toBe(4096);
    const small = files.find(f => f.path === 'a/one.txt')!;
    expect(small.lfsSha256).toBeUndefined();
    expect(small.oid).toMatch(/^[0-9a-f]{40}$/);

    // every page of the listing was read
    const treePages = hub
      .findRequests({ method: 'GET', path: `/api/models/${NESTED}/tree/*` })
      .filter(r => r.status === 200);
    expect(treePages.length).toBeGreaterThanOrEqual(4);
    expect(treePages.some(r => r.search.includes('cursor='))).toBe(true);

    // card front matter and config into the model
    const updated = (await e.store.getModel({ entityRef: model.entityRef }))!;
    expect(updated).toMatchObject({
      type: 'llm',
      task: 'text-generation',
      license: 'mit',
      format: 'safetensors',
    });
    expect(updated.tags).toEqual(
      expect.arrayContaining(['huggingface', 'nested-folders', 'mock', 'transformers', 'llama']),
    );
    expect(updated.tags.every(t => /^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$/.test(t))).toBe(true);
    expect(repo.cardData).toMatchObject({ base_model: 'acme/tiny-llm' });

    // the version of the commit
    const version = await e.store.getVersion({
      modelId: model.id,
      label: versionLabelOf(sha),
    });
    expect(version).toMatchObject({ resolvedCommit: sha, sourceType: 'huggingface' });
    e.cleanup();
  });

  it('records upstream drift for review', async () => {
    const e = await env();
    await e.sync.register({
      repoId: FIXTURE_REPOS.tinyLlm,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    await e.sync.syncRepo({ repoId: FIXTURE_REPOS.tinyLlm });
    const before = hub.headSha(FIXTURE_REPOS.tinyLlm);
    const after = hub.commit(FIXTURE_REPOS.tinyLlm, {
      title: 'New weights',
      files: [{ path: 'extra.txt', content: 'new\n' }],
    });
    const result = await e.sync.runScheduled();
    expect(result).toMatchObject({ checked: 1, drifted: 1, failed: 0 });
    const repo = (await e.hfStore.getRepo({ repoId: FIXTURE_REPOS.tinyLlm }))!;
    expect(repo).toMatchObject({
      lastSyncedCommit: before,
      upstreamCommit: after,
      drift: true,
    });
    e.cleanup();
  });

  it('answers a gated repo without access with a clear error', async () => {
    const e = await env(FIXTURE_TOKENS.user);
    await expect(
      e.sync.register({
        repoId: FIXTURE_REPOS.gated,
        revision: 'main',
        owner: 'group:default/ml-team',
        createdBy: 'user:default/alice',
      }),
    ).rejects.toMatchObject({
      name: 'NotAllowedError',
      message: expect.stringMatching(
        /gated-org\/gated-llm is a gated repository and the configured Hugging Face token has no access to it \(403\).*not in the authorized list/,
      ),
    });
    // nothing was created
    await expect(
      e.store.getModel({ entityRef: 'model:default/gated-org--gated-llm' }),
    ).resolves.toBeUndefined();

    const anonymous = await env();
    await expect(
      anonymous.sync.register({
        repoId: FIXTURE_REPOS.gated,
        revision: 'main',
        owner: 'group:default/ml-team',
        createdBy: 'user:default/alice',
      }),
    ).rejects.toThrow(/gated repository.*\(401\).*Please log in/);

    const granted = await env(FIXTURE_TOKENS.granted);
    const { model } = await granted.sync.register({
      repoId: FIXTURE_REPOS.gated,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    expect(model.entityRef).toBe('model:default/gated-org--gated-llm');
    e.cleanup();
    anonymous.cleanup();
    granted.cleanup();
  });

  it('retries a 429 after Retry-After and then succeeds', async () => {
    const e = await env();
    const script = hub.script({
      match: { method: 'GET', path: `/api/models/${FIXTURE_REPOS.embedding}/revision/*` },
      times: 1,
      fault: { status: 429, retryAfter: 1 },
    });
    const started = Date.now();
    await e.sync.register({
      repoId: FIXTURE_REPOS.embedding,
      revision: 'main',
      owner: 'group:default/ml-team',
      createdBy: 'user:default/alice',
    });
    expect(script.hits).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const statuses = hub
      .findRequests({ path: `/api/models/${FIXTURE_REPOS.embedding}/revision/*` })
      .map(r => r.status);
    expect(statuses).toEqual([429, 200]);
    e.cleanup();
  });

  it('fails a missing repo and a forbidden organization clearly', async () => {
    const e = await env();
    await expect(
      e.sync.register({
        repoId: 'acme/does-not-exist',
        revision: 'main',
        owner: 'group:default/ml-team',
        createdBy: 'user:default/alice',
      }),
    ).rejects.toMatchObject({
      name: 'NotFoundError',
      message: expect.stringContaining('acme/does-not-exist was not found on the Hub'),
    });
    const knex = await databases.init(id);
    const limited = await createHubEnv(knex, {
      endpoint: server.url,
      config: { allowedOrganizations: ['gated-org'] },
    });
    await expect(
      limited.sync.register({
        repoId: FIXTURE_REPOS.tinyLlm,
        revision: 'main',
        owner: 'group:default/ml-team',
        createdBy: 'user:default/alice',
      }),
    ).rejects.toThrow('The organization acme is not in modelHub.huggingface.allowedOrganizations');
    e.cleanup();
    limited.cleanup();
  });
});
