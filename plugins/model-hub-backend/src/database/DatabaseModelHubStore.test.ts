import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from './DatabaseModelHubStore';
import { CreateModelOptions } from './ModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const sha = (c: string) => c.repeat(64);

function model(
  name: string,
  extra: Partial<CreateModelOptions> = {},
): CreateModelOptions {
  return {
    namespace: 'default',
    name,
    type: 'llm',
    lifecycle: 'experimental',
    owner: 'group:default/ml-engineers',
    sourceType: 'upload',
    source: 'upload',
    tags: [],
    createdBy: 'user:default/alice',
    ...extra,
  };
}

describe.each(databases.eachSupportedId())('DatabaseModelHubStore (%s)', id => {
  async function createStore() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    return { knex, store };
  }

  it('creates, gets and rejects duplicate models', async () => {
    const { store } = await createStore();
    const created = await store.createModel(
      model('Llama', { title: 'Llama 3', tags: ['nlp', 'nlp', 'chat'] }),
    );
    expect(created).toMatchObject({
      entityRef: 'model:default/llama',
      name: 'Llama',
      tags: ['nlp', 'chat'],
      owner: 'group:default/ml-engineers',
    });
    await expect(
      store.getModel({ entityRef: 'model:default/LLAMA' }),
    ).resolves.toEqual(created);
    await expect(store.createModel(model('llama'))).rejects.toMatchObject({
      name: 'ConflictError',
    });
    await expect(
      store.getModel({ entityRef: 'model:default/nope' }),
    ).resolves.toBeUndefined();
  });

  it('turns concurrent duplicate inserts into conflicts', async () => {
    const { store } = await createStore();
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => store.createModel(model('race'))),
    );
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter(x => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason.name).toBe('ConflictError');
    }
    const m = (await store.getModel({ entityRef: 'model:default/race' }))!;
    const versions = await Promise.allSettled(
      Array.from({ length: 4 }, () =>
        store.createVersion({
          modelId: m.id,
          label: 'v1',
          sourceType: 'upload',
          createdBy: 'user:default/alice',
        }),
      ),
    );
    expect(versions.filter(r => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of versions.filter(x => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason.name).toBe('ConflictError');
    }
  });

  it('lists models with pagination, filters, search and sort', async () => {
    const { store } = await createStore();
    const a = await store.createModel(
      model('alpha', {
        type: 'vision',
        tags: ['cv'],
        description: 'Detects cats',
      }),
    );
    const b = await store.createModel(
      model('bravo', { owner: 'group:default/other', tags: ['cv', 'nlp'] }),
    );
    await store.createModel(
      model('charlie', {
        sourceType: 'huggingface',
        source: { huggingface: { repo: 'org/charlie' } },
        title: '100%_sure',
      }),
    );
    const v = await store.createVersion({
      modelId: b.id,
      label: 'v1',
      sourceType: 'upload',
      createdBy: 'user:default/alice',
    });
    expect(v.state).toBe('draft');

    const names = (r: { items: { name: string }[] }) =>
      r.items.map(i => i.name);
    expect(names(await store.listModels({ offset: 0, limit: 2 }))).toEqual([
      'alpha',
      'bravo',
    ]);
    const page2 = await store.listModels({ offset: 2, limit: 2 });
    expect(names(page2)).toEqual(['charlie']);
    expect(page2.totalCount).toBe(3);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          sort: { field: 'name', order: 'desc' },
        }),
      ),
    ).toEqual(['charlie', 'bravo', 'alpha']);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          filter: { type: ['vision'] },
        }),
      ),
    ).toEqual(['alpha']);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          filter: { owner: ['group:default/other'] },
        }),
      ),
    ).toEqual(['bravo']);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          filter: { source: ['huggingface'] },
        }),
      ),
    ).toEqual(['charlie']);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          filter: { tag: ['cv'] },
        }),
      ),
    ).toEqual(['alpha', 'bravo']);
    expect(
      names(
        await store.listModels({
          offset: 0,
          limit: 10,
          filter: { tag: ['cv', 'nlp'] },
        }),
      ),
    ).toEqual(['bravo']);
    const drafts = await store.listModels({
      offset: 0,
      limit: 10,
      filter: { state: ['draft'] },
    });
    expect(names(drafts)).toEqual(['bravo']);
    expect(drafts.items[0]).toMatchObject({
      versionCount: 1,
      latestVersion: { label: 'v1', state: 'draft' },
    });
    expect(
      names(await store.listModels({ offset: 0, limit: 10, search: 'CATS' })),
    ).toEqual(['alpha']);
    // LIKE wildcards in the search are literal
    expect(
      names(await store.listModels({ offset: 0, limit: 10, search: '0%_' })),
    ).toEqual(['charlie']);
    expect(
      names(await store.listModels({ offset: 0, limit: 10, search: 'a%c' })),
    ).toEqual([]);
    expect(a.type).toBe('vision');
  });

  it('manages versions, files and blob references', async () => {
    const { store } = await createStore();
    const m = await store.createModel(model('m'));
    const v1 = await store.createVersion({
      modelId: m.id,
      label: 'v1',
      sourceType: 'huggingface',
      source: { huggingface: { repo: 'org/m', revision: 'main' } },
      resolvedCommit: 'abc123',
      createdBy: 'user:default/alice',
    });
    await expect(
      store.createVersion({
        modelId: m.id,
        label: 'v1',
        sourceType: 'upload',
        createdBy: 'user:default/alice',
      }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
    const v2 = await store.createVersion({
      modelId: m.id,
      label: 'v2',
      sourceType: 'upload',
      createdBy: 'user:default/alice',
    });

    const blob = { sha256: sha('a'), size: 10, location: 'sha256/aa/x' };
    const added = await store.addFile({
      versionId: v1.id,
      path: 'model.safetensors',
      kind: 'weights',
      blob,
      createdBy: 'user:default/alice',
    });
    expect(added.created).toBe(true);
    // same content again: idempotent
    await expect(
      store.addFile({
        versionId: v1.id,
        path: 'model.safetensors',
        kind: 'weights',
        blob,
        createdBy: 'user:default/alice',
      }),
    ).resolves.toMatchObject({ created: false });
    // other content at the same path: conflict
    await expect(
      store.addFile({
        versionId: v1.id,
        path: 'model.safetensors',
        kind: 'weights',
        blob: { ...blob, sha256: sha('b') },
        createdBy: 'user:default/alice',
      }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
    // dedup across versions
    await store.addFile({
      versionId: v2.id,
      path: 'weights/model.safetensors',
      kind: 'weights',
      blob,
      createdBy: 'user:default/alice',
    });
    await store.addFile({
      versionId: v2.id,
      path: 'config.json',
      kind: 'config',
      blob: { sha256: sha('c'), size: 5, location: 'sha256/cc/x' },
      createdBy: 'user:default/alice',
    });
    expect((await store.getBlob({ sha256: sha('a') }))?.refCount).toBe(2);

    const versions = await store.listVersions({ modelId: m.id });
    expect(versions.map(v => [v.label, v.fileCount, v.totalSize])).toEqual(
      expect.arrayContaining([
        ['v1', 1, 10],
        ['v2', 2, 15],
      ]),
    );
    const got = await store.getVersion({ modelId: m.id, label: 'v1' });
    expect(got).toMatchObject({
      label: 'v1',
      state: 'draft',
      resolvedCommit: 'abc123',
      source: { huggingface: { repo: 'org/m', revision: 'main' } },
      revision: 1,
    });
    expect(
      (await store.listFiles({ versionId: v2.id })).map(f => f.path),
    ).toEqual(['config.json', 'weights/model.safetensors']);

    await store.removeFile({ versionId: v1.id, path: 'model.safetensors' });
    await store.removeFile({
      versionId: v2.id,
      path: 'weights/model.safetensors',
    });
    await expect(
      store.removeFile({ versionId: v2.id, path: 'nope' }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });
    expect((await store.getBlob({ sha256: sha('a') }))?.refCount).toBe(0);

    const future = new Date(Date.now() + 60_000);
    const past = new Date(Date.now() - 60_000);
    expect(
      await store.listUnreferencedBlobs({ before: past, limit: 10 }),
    ).toEqual([]);
    const unreferenced = await store.listUnreferencedBlobs({
      before: future,
      limit: 10,
    });
    expect(unreferenced.map(b => b.sha256)).toEqual([sha('a')]);

    // a failing delete of the bytes keeps the row
    await expect(
      store.deleteUnreferencedBlob({
        sha256: sha('a'),
        before: future,
        fn: async () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('boom');
    expect(await store.getBlob({ sha256: sha('a') })).toBeDefined();
    const fn = jest.fn(async () => {});
    await expect(
      store.deleteUnreferencedBlob({ sha256: sha('c'), before: future, fn }),
    ).resolves.toBe(false);
    await expect(
      store.deleteUnreferencedBlob({ sha256: sha('a'), before: future, fn }),
    ).resolves.toBe(true);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await store.findBlobs({ sha256s: [sha('a'), sha('c')] })).toEqual(
      new Set([sha('c')]),
    );
  });

  it('manages jobs and their logs', async () => {
    const { store } = await createStore();
    const m = await store.createModel(model('m'));
    const job = await store.createJob({
      type: 'hf-download',
      modelId: m.id,
      params: { repo: 'org/m' },
      createdBy: 'user:default/alice',
    });
    expect(job).toMatchObject({
      state: 'queued',
      modelRef: 'model:default/m',
      params: { repo: 'org/m' },
      attempts: 0,
      maxAttempts: 5,
    });
    await expect(
      store.retryJob({ id: job.id, actor: 'user:default/alice' }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
    const cancelled = await store.cancelJob({
      id: job.id,
      actor: 'user:default/alice',
    });
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.finishedAt).toBeDefined();
    await expect(
      store.cancelJob({ id: job.id, actor: 'user:default/alice' }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
    expect(
      (await store.retryJob({ id: job.id, actor: 'user:default/bob' })).state,
    ).toBe('queued');
    await expect(
      store.cancelJob({ id: 'nope', actor: 'user:default/alice' }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });

    await store.appendJobLog({ jobId: job.id, level: 'warn', message: 'slow' });
    const logs = await store.listJobLogs({ jobId: job.id, limit: 10 });
    expect(logs.map(l => l.message)).toEqual([
      'Cancelled by user:default/alice',
      'Retried by user:default/bob',
      'slow',
    ]);
    expect(
      (
        await store.listJobLogs({
          jobId: job.id,
          afterId: logs[1].id,
          limit: 10,
        })
      ).map(l => l.message),
    ).toEqual(['slow']);

    await store.createJob({ type: 'scan', createdBy: 'user:default/alice' });
    const all = await store.listJobs({ offset: 0, limit: 10 });
    expect(all.totalCount).toBe(2);
    expect(
      (await store.listJobs({ offset: 0, limit: 10, type: 'scan' })).items,
    ).toHaveLength(1);
    expect(
      (await store.listJobs({ offset: 0, limit: 10, modelId: m.id })).items.map(
        j => j.id,
      ),
    ).toEqual([job.id]);
    expect(
      (await store.listJobs({ offset: 0, limit: 10, state: ['failed'] }))
        .totalCount,
    ).toBe(0);
  });

  it('computes stats and records audit events', async () => {
    const { store, knex } = await createStore();
    const m = await store.createModel(model('m'));
    const v = await store.createVersion({
      modelId: m.id,
      label: 'v1',
      sourceType: 'upload',
      createdBy: 'user:default/alice',
    });
    await store.addFile({
      versionId: v.id,
      path: 'a.bin',
      kind: 'weights',
      blob: { sha256: sha('d'), size: 1000, location: 'x' },
      createdBy: 'user:default/alice',
    });
    await store.createJob({ type: 'scan', createdBy: 'user:default/alice' });
    const stats = await store.getStats();
    expect(stats).toEqual({
      models: 1,
      versions: {
        total: 1,
        byState: {
          draft: 1,
          in_review: 0,
          approved: 0,
          changes_requested: 0,
          rejected: 0,
          deprecated: 0,
          archived: 0,
        },
      },
      storage: { blobs: 1, bytes: 1000, unreferencedBlobs: 0 },
      jobs: { active: 1, failed: 0 },
    });
    await store.addAuditEvent({
      eventId: 'model-create',
      actor: 'user:default/alice',
      modelRef: 'model:default/m',
      meta: { a: 1 },
    });
    const rows = await knex('audit_events').select();
    expect(rows).toEqual([
      expect.objectContaining({
        event_id: 'model-create',
        actor: 'user:default/alice',
        model_ref: 'model:default/m',
        meta: '{"a":1}',
      }),
    ]);
  });
});
