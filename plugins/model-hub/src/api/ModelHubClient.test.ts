import {
  MockFetchApi,
  mockApis,
  registerMswTestHooks,
} from '@backstage/test-utils';
import { ResponseError } from '@backstage/errors';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { ModelHubClient } from './ModelHubClient';

const base = 'http://backstage.test/api/model-hub';

describe('ModelHubClient', () => {
  const server = setupServer();
  registerMswTestHooks(server);

  const client = new ModelHubClient({
    discoveryApi: mockApis.discovery({ baseUrl: 'http://backstage.test' }),
    fetchApi: new MockFetchApi(),
  });

  /** Answers `body` on `method path` and records the request URLs. */
  function answer(
    method: 'get' | 'post' | 'patch' | 'delete',
    path: string,
    body: unknown,
    status = 200,
  ) {
    const calls: { url: URL; body?: unknown; headers: Headers }[] = [];
    server.use(
      http[method](`${base}${path}`, async ({ request }) => {
        const text = await request.text();
        calls.push({
          url: new URL(request.url),
          body: text ? JSON.parse(text) : undefined,
          headers: request.headers,
        });
        return status === 204
          ? new HttpResponse(null, { status })
          : HttpResponse.json(body as any, { status });
      }),
    );
    return calls;
  }

  it('lists models with filters as repeated parameters', async () => {
    const page = { items: [], totalCount: 0, offset: 40, limit: 20 };
    const calls = answer('get', '/models', page);
    await expect(
      client.listModels({
        offset: 40,
        limit: 20,
        type: ['llm', 'vision'],
        state: ['approved'],
        owner: ['group:default/ml-engineers'],
        source: ['huggingface'],
        tag: ['chat'],
        q: 'llama 3',
        sort: 'updatedAt',
        order: 'desc',
      }),
    ).resolves.toEqual(page);
    expect(calls[0].url.search).toBe(
      '?offset=40&limit=20&type=llm&type=vision&state=approved&owner=group%3Adefault%2Fml-engineers&source=huggingface&tag=chat&q=llama+3&sort=updatedAt&order=desc',
    );
  });

  it('leaves out empty filters', async () => {
    const calls = answer('get', '/models', { items: [], totalCount: 0 });
    await client.listModels({ offset: 0, limit: 20, q: '', type: [] });
    expect(calls[0].url.search).toBe('?offset=0&limit=20');
  });

  it('addresses a model by entity ref, encoding path segments', async () => {
    const calls = answer('get', '/models/default/llama-3', { versions: [] });
    await client.getModel('model:default/llama-3');
    await client.getModel({ namespace: 'default', name: 'llama-3' });
    expect(calls).toHaveLength(2);
  });

  it('lists files of a version and builds download URLs per segment', async () => {
    const calls = answer(
      'get',
      '/models/default/bert/versions/1.0%2Bcu/files',
      { files: [], tree: { type: 'directory', name: '', path: '' } },
    );
    await client.listFiles('model:default/bert', '1.0+cu');
    expect(calls).toHaveLength(1);
    await expect(
      client.getFileUrl('model:default/bert', '1.0', 'onnx/model #1.onnx'),
    ).resolves.toBe(
      `${base}/models/default/bert/versions/1.0/files/onnx/model%20%231.onnx`,
    );
  });

  it('reads the beginning of a text file with a Range header', async () => {
    server.use(
      http.get(
        `${base}/models/default/bert/versions/1.0/files/README.md`,
        ({ request }) =>
          new HttpResponse(`range ${request.headers.get('range')}`, {
            status: 206,
          }),
      ),
    );
    await expect(
      client.readTextFile('model:default/bert', '1.0', 'README.md', {
        maxBytes: 1024,
      }),
    ).resolves.toBe('range bytes=0-1023');
  });

  it('sends JSON bodies for versions, reviews and imports', async () => {
    const created = answer(
      'post',
      '/models/default/bert/versions',
      { label: '2.0' },
      201,
    );
    await client.createVersion('model:default/bert', { label: '2.0' });
    expect(created[0].body).toEqual({ label: '2.0' });
    expect(created[0].headers.get('content-type')).toBe('application/json');

    const transitions = answer(
      'post',
      '/models/default/bert/versions/2.0/transitions',
      { version: { state: 'in_review' }, from: 'draft', to: 'in_review' },
    );
    await client.submitVersion('model:default/bert', '2.0', { revision: 3 });
    await client.reviewVersion('model:default/bert', '2.0', {
      decision: 'request_changes',
      comment: 'Add a card',
      revision: 4,
    });
    expect(transitions.map(c => c.body)).toEqual([
      { action: 'submit', revision: 3 },
      { action: 'request_changes', comment: 'Add a card', revision: 4 },
    ]);

    const imported = answer('post', '/huggingface/repos', { model: {} }, 202);
    await client.importHuggingFaceRepo({
      repoId: 'acme/tiny-llm',
      owner: 'group:default/ml-engineers',
    });
    expect(imported[0].body).toEqual({
      repoId: 'acme/tiny-llm',
      owner: 'group:default/ml-engineers',
    });

    const download = answer(
      'post',
      '/huggingface/repos/acme/tiny-llm/download',
      { jobId: 'j9' },
      202,
    );
    await expect(
      client.downloadFromHuggingFace('acme/tiny-llm', {
        version: 'abc',
        files: ['weights'],
      }),
    ).resolves.toEqual({ jobId: 'j9' });
    expect(download[0].body).toEqual({ version: 'abc', files: ['weights'] });
  });

  it('lists jobs, logs, approvals, history and activity with exact queries', async () => {
    const jobs = answer('get', '/jobs', { items: [], totalCount: 0 });
    await client.listJobs({
      offset: 0,
      limit: 50,
      state: ['running', 'queued'],
      model: 'model:default/bert',
    });
    expect(jobs[0].url.search).toBe(
      '?offset=0&limit=50&state=running&state=queued&model=model%3Adefault%2Fbert',
    );

    const logs = answer('get', '/jobs/j1/logs', {
      items: [{ id: 8, level: 'info', message: 'm', createdAt: 'x' }],
    });
    await expect(client.getJobLogs('j1', { after: 7 })).resolves.toHaveLength(
      1,
    );
    expect(logs[0].url.search).toBe('?after=7');

    const approvals = answer('get', '/reviews', { items: [], totalCount: 0 });
    await client.listApprovals({ model: 'model:default/bert', limit: 25 });
    expect(approvals[0].url.search).toBe(
      '?model=model%3Adefault%2Fbert&limit=25',
    );

    const history = answer('get', '/stats/history', { items: [] });
    await client.getStatsHistory({ days: 30 });
    expect(history[0].url.search).toBe('?days=30');

    const activity = answer('get', '/activity', { items: [] });
    await client.listActivity({ limit: 10 });
    expect(activity[0].url.search).toBe('?limit=10');

    const preview = answer('get', '/huggingface/preview/acme/tiny-llm', {
      files: [],
    });
    await client.previewHuggingFaceRepo('acme/tiny-llm', { revision: 'main' });
    expect(preview[0].url.search).toBe('?revision=main');
  });

  it('posts job actions and answers the endpoints of uploads and the mirror', async () => {
    const retry = answer('post', '/jobs/j1/retry', {
      id: 'j1',
      state: 'queued',
    });
    await expect(client.retryJob('j1')).resolves.toEqual({
      id: 'j1',
      state: 'queued',
    });
    expect(retry).toHaveLength(1);
    answer('post', '/jobs/j1/cancel', { id: 'j1', state: 'cancelled' });
    await expect(client.cancelJob('j1')).resolves.toMatchObject({
      state: 'cancelled',
    });
    const removed = answer(
      'delete',
      '/models/default/bert/versions/2.0/files/a/b.bin',
      undefined,
      204,
    );
    await expect(
      client.deleteFile('model:default/bert', '2.0', 'a/b.bin'),
    ).resolves.toBeUndefined();
    expect(removed).toHaveLength(1);
    const versionDeleted = answer(
      'delete',
      '/models/default/bert/versions/2.0',
      undefined,
      204,
    );
    await expect(
      client.deleteVersion('model:default/bert', '2.0'),
    ).resolves.toBeUndefined();
    expect(versionDeleted).toHaveLength(1);
    const modelDeleted = answer(
      'delete',
      '/models/default/bert',
      undefined,
      204,
    );
    await expect(
      client.deleteModel('model:default/bert'),
    ).resolves.toBeUndefined();
    expect(modelDeleted).toHaveLength(1);
    const patched = answer('patch', '/models/default/bert', {
      name: 'bert',
      title: 'BERT',
    });
    await expect(
      client.updateModel('model:default/bert', {
        title: 'BERT',
        license: null,
      }),
    ).resolves.toEqual({ name: 'bert', title: 'BERT' });
    expect(patched[0].body).toEqual({ title: 'BERT', license: null });
    await expect(client.getUploadEndpoint()).resolves.toBe(`${base}/uploads`);
    await expect(client.getMirrorEndpoint()).resolves.toBe(`${base}/hf`);
  });

  it('maps the audit trail to the approval timeline and checks with waivers', async () => {
    answer('get', '/models/default/bert/versions/2.0/history', {
      items: [
        {
          id: 1,
          eventId: 'upload-create',
          actor: 'user:default/alice',
          meta: { path: 'a.bin' },
          createdAt: 't1',
        },
        {
          id: 2,
          eventId: 'version-approve',
          actor: 'user:default/bob',
          meta: {
            action: 'approve',
            comment: 'ok',
            from: 'in_review',
            to: 'approved',
          },
          createdAt: 't2',
        },
      ],
    });
    await expect(
      client.listReviews('model:default/bert', '2.0'),
    ).resolves.toEqual([
      {
        id: 1,
        action: 'upload-create',
        actor: 'user:default/alice',
        comment: undefined,
        fromState: undefined,
        toState: undefined,
        createdAt: 't1',
      },
      {
        id: 2,
        action: 'approve',
        actor: 'user:default/bob',
        comment: 'ok',
        fromState: 'in_review',
        toState: 'approved',
        createdAt: 't2',
      },
    ]);

    answer('get', '/models/default/bert/versions/2.0/review', {
      checks: {
        items: [
          { name: 'pickle-scan', status: 'failed', required: true },
          { name: 'format', status: 'passed', required: false },
        ],
        waivers: [
          {
            checkName: 'pickle-scan',
            reason: 'trusted',
            waivedBy: 'user:default/dana',
          },
        ],
        blocking: [],
      },
    });
    await expect(
      client.listChecks('model:default/bert', '2.0'),
    ).resolves.toEqual([
      {
        name: 'pickle-scan',
        status: 'failed',
        required: true,
        waiver: { reason: 'trusted', waivedBy: 'user:default/dana' },
      },
      { name: 'format', status: 'passed', required: false },
    ]);
    await expect(
      client.getPackageUploadUrl('model:default/bert', '2.0'),
    ).resolves.toBe(`${base}/models/default/bert/packages?label=2.0`);
  });

  it('sends the lifecycle actions of issue 19 to their routes', async () => {
    const transitions = answer(
      'post',
      '/models/default/tiny/versions/2.0/transitions',
      { version: {}, from: 'approved', to: 'deprecated' },
    );
    await client.transitionVersion('model:default/tiny', '2.0', {
      action: 'revoke',
      comment: 'license withdrawn',
      revision: 3,
    });
    expect(transitions[0].body).toEqual({
      action: 'revoke',
      comment: 'license withdrawn',
      revision: 3,
    });

    const waiver = answer(
      'post',
      '/models/default/tiny/versions/2.0/checks/model-hub.safety/waiver',
      { checkName: 'model-hub.safety', reason: 'vetted' },
      201,
    );
    await client.waiveCheck(
      'model:default/tiny',
      '2.0',
      'model-hub.safety',
      'vetted',
    );
    expect(waiver[0].body).toEqual({ reason: 'vetted' });

    const comments = answer(
      'get',
      '/models/default/tiny/versions/2.0/comments',
      {
        items: [
          { id: 'c1', author: 'user:default/bob', body: 'hi', replies: [] },
        ],
      },
    );
    await expect(
      client.listComments('model:default/tiny', '2.0'),
    ).resolves.toEqual([
      { id: 'c1', author: 'user:default/bob', body: 'hi', replies: [] },
    ]);
    expect(comments).toHaveLength(1);
    const reply = answer(
      'post',
      '/models/default/tiny/versions/2.0/comments',
      { id: 'c2', parentId: 'c1', author: 'user:default/alice', body: 'yes' },
      201,
    );
    await expect(
      client.addComment('model:default/tiny', '2.0', {
        body: 'yes',
        parentId: 'c1',
      }),
    ).resolves.toEqual({
      id: 'c2',
      parentId: 'c1',
      author: 'user:default/alice',
      body: 'yes',
      replies: [],
    });
    expect(reply[0].body).toEqual({ body: 'yes', parentId: 'c1' });

    const promote = answer('post', '/models/default/tiny/active', {
      label: '2.0',
    });
    await client.promoteVersion('model:default/tiny', '2.0', {
      expectedActive: null,
    });
    expect(promote[0].body).toEqual({ label: '2.0', expectedActive: null });
    const rollback = answer('post', '/models/default/tiny/active/rollback', {
      label: '1.0',
    });
    await client.rollbackVersion('model:default/tiny', {
      label: '1.0',
      expectedActive: '2.0',
    });
    expect(rollback[0].body).toEqual({ label: '1.0', expectedActive: '2.0' });

    const diff = answer('get', '/models/default/tiny/versions/1.0/diff', {
      files: { added: [], removed: [], changed: [], unchanged: 2 },
    });
    await client.getVersionDiff('model:default/tiny', '1.0', {
      against: '2.0',
    });
    expect(diff[0].url.search).toBe('?against=2.0');
  });

  it('searches and exports the audit trail, and starts a local scan', async () => {
    const audit = answer('get', '/audit', {
      items: [],
      totalCount: 0,
      offset: 0,
      limit: 50,
    });
    await client.listAudit({
      actor: ['user:default/bob'],
      event: ['version-approve', 'version-reject'],
      from: '2026-01-01',
      limit: 50,
    });
    expect(audit[0].url.search).toBe(
      '?actor=user%3Adefault%2Fbob&event=version-approve&event=version-reject&from=2026-01-01&limit=50',
    );
    server.use(
      http.get(`${base}/audit/export`, ({ request }) => {
        expect(new URL(request.url).search).toBe(
          '?model=model%3Adefault%2Ftiny',
        );
        return new HttpResponse('id,createdAt\n1,2026-01-01\n', {
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition':
              'attachment; filename="model-hub-audit-2026-01-01-2026-01-31.csv"',
            'x-truncated': 'true',
          },
        });
      }),
    );
    const exported = await client.exportAudit({
      model: ['model:default/tiny'],
    });
    expect(exported.filename).toBe('model-hub-audit-2026-01-01-2026-01-31.csv');
    expect(exported.truncated).toBe(true);
    expect(await exported.blob.text()).toBe('id,createdAt\n1,2026-01-01\n');

    const scan = answer(
      'post',
      '/scan',
      { jobId: 'j1', job: { id: 'j1', type: 'local-scan', state: 'queued' } },
      202,
    );
    await expect(
      client.startLocalScan({ path: 'acme' }),
    ).resolves.toMatchObject({ jobId: 'j1' });
    expect(scan[0].body).toEqual({ path: 'acme' });

    const repos = answer('get', '/huggingface/repos', {
      items: [],
      totalCount: 0,
      offset: 0,
      limit: 50,
    });
    await client.listHuggingFaceRepos({ syncState: ['failed'], limit: 50 });
    expect(repos[0].url.search).toBe('?limit=50&syncState=failed');
  });

  it('throws a ResponseError with the backend message', async () => {
    server.use(
      http.get(`${base}/stats`, () =>
        HttpResponse.json(
          {
            error: { name: 'NotAllowedError', message: 'Nope' },
            response: { statusCode: 403 },
          },
          { status: 403 },
        ),
      ),
    );
    const error = await client.getStats().catch(e => e);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.statusCode).toBe(403);
    expect(error.body.error.message).toBe('Nope');
  });
});
