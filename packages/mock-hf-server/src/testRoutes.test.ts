import { createHash } from 'node:crypto';
import { CoreResponse, handleHubRequest } from './core';
import { createFixtureHub, FIXTURE_REPOS, FIXTURE_TOKENS } from './fixtures';

const BASE = 'http://mock.test/api/mock-hf';

function bodyOf(res: CoreResponse): Buffer {
  return Buffer.concat(Array.from(res.body ?? [], c => Buffer.from(c)));
}

async function call(
  hub: ReturnType<typeof createFixtureHub>,
  options: {
    method?: string;
    path: string;
    token?: string;
    body?: unknown;
    testRoutes?: boolean;
  },
) {
  const res = await handleHubRequest(
    hub,
    {
      method: options.method ?? 'POST',
      url: `${BASE}${options.path}`,
      headers: options.token
        ? { authorization: `Bearer ${options.token}` }
        : {},
      body:
        options.body === undefined
          ? undefined
          : new Uint8Array(Buffer.from(JSON.stringify(options.body))),
    },
    { baseUrl: BASE, testRoutes: options.testRoutes ?? true },
  );
  const raw = bodyOf(res);
  let json: any;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, json, raw };
}

describe('test-only routes', () => {
  const commits = `/_test/repos/${FIXTURE_REPOS.tinyLlm}/commits`;

  it('pushes a commit to a repo: the Hub serves the new head and files', async () => {
    const hub = createFixtureHub();
    const before = hub.headSha(FIXTURE_REPOS.tinyLlm);
    const res = await call(hub, {
      path: commits,
      token: FIXTURE_TOKENS.admin,
      body: {
        title: 'Add notes',
        files: [
          { path: 'notes.txt', text: 'drifted\n' },
          {
            path: 'extra.safetensors',
            safetensors: { tensors: { w: { dtype: 'F32', shape: [2, 3] } } },
          },
        ],
        delete: ['tokenizer.json'],
      },
    });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      repoId: FIXTURE_REPOS.tinyLlm,
      branch: 'main',
      commit: expect.stringMatching(/^[0-9a-f]{40}$/),
      created: false,
    });
    expect(res.json.commit).not.toBe(before);
    expect(hub.headSha(FIXTURE_REPOS.tinyLlm)).toBe(res.json.commit);

    // the Hub API answers with the new commit
    const info = await call(hub, {
      method: 'GET',
      path: `/api/models/${FIXTURE_REPOS.tinyLlm}/revision/main`,
      token: FIXTURE_TOKENS.admin,
    });
    expect(info.json.sha).toBe(res.json.commit);
    const paths = hub.filePaths(FIXTURE_REPOS.tinyLlm);
    expect(paths).toContain('notes.txt');
    expect(paths).toContain('extra.safetensors');
    expect(paths).not.toContain('tokenizer.json');
    const file = await call(hub, {
      method: 'GET',
      path: `/${FIXTURE_REPOS.tinyLlm}/resolve/main/notes.txt`,
      token: FIXTURE_TOKENS.admin,
    });
    expect(file.raw.toString()).toBe('drifted\n');
    const weights = hub.fileContent(FIXTURE_REPOS.tinyLlm, 'extra.safetensors');
    // a valid safetensors file: its header describes the tensor
    const headerLength = Number(weights.readBigUInt64LE(0));
    const header = JSON.parse(weights.subarray(8, 8 + headerLength).toString());
    expect(header.w).toMatchObject({ dtype: 'F32', shape: [2, 3] });
    expect(weights.length).toBe(8 + headerLength + 24);
  });

  it('creates a repo with its first commit', async () => {
    const hub = createFixtureHub();
    const bytes = Buffer.from([0, 1, 2, 255]);
    const res = await call(hub, {
      path: '/_test/repos/e2e/drift-1/commits',
      token: FIXTURE_TOKENS.admin,
      body: {
        create: true,
        config: { model_type: 'llama' },
        cardData: { license: 'mit' },
        files: [
          { path: 'data.bin', base64: bytes.toString('base64') },
          { path: 'big.bin', generated: { size: 1000, seed: 'x' } },
        ],
      },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ repoId: 'e2e/drift-1', created: true });
    expect(hub.hasRepo('e2e/drift-1')).toBe(true);
    expect(hub.fileContent('e2e/drift-1', 'data.bin').equals(bytes)).toBe(true);
    expect(hub.fileContent('e2e/drift-1', 'big.bin')).toHaveLength(1000);
    expect(hub.filePaths('e2e/drift-1')).toEqual(
      expect.arrayContaining(['config.json', 'README.md']),
    );
    const sha = createHash('sha256')
      .update(hub.fileContent('e2e/drift-1', 'data.bin'))
      .digest('hex');
    expect(sha).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('refuses without an all-access token, bad bodies, and is off unless enabled', async () => {
    const hub = createFixtureHub();
    const head = hub.headSha(FIXTURE_REPOS.tinyLlm);
    const body = { files: [{ path: 'x.txt', text: 'x' }] };
    expect((await call(hub, { path: commits, body })).status).toBe(403);
    expect(
      (await call(hub, { path: commits, body, token: FIXTURE_TOKENS.granted }))
        .status,
    ).toBe(403);
    const admin = FIXTURE_TOKENS.admin;
    for (const [bad, status] of [
      [{ files: [{ path: 'x.txt' }] }, 400],
      [{ files: [{ path: 'x.txt', text: 'a', base64: 'YQ==' }] }, 400],
      [{ files: [{ text: 'a' }] }, 400],
      [{ files: [{ path: 'x', generated: { size: -1 } }] }, 400],
      [{}, 400],
      [[1, 2], 400],
    ] as const) {
      const res = await call(hub, { path: commits, body: bad, token: admin });
      expect([res.status, typeof res.json.error]).toEqual([status, 'string']);
    }
    expect(
      (
        await call(hub, {
          path: '/_test/repos/acme/none/commits',
          body,
          token: admin,
        })
      ).status,
    ).toBe(404);
    expect(
      (await call(hub, { path: '/_test/nothing', body, token: admin })).status,
    ).toBe(404);
    expect(
      (await call(hub, { method: 'GET', path: commits, token: admin })).status,
    ).toBe(405);
    // a server that does not enable them: no such route
    expect(
      (
        await call(hub, {
          path: commits,
          body,
          token: admin,
          testRoutes: false,
        })
      ).status,
    ).toBe(404);
    expect(hub.headSha(FIXTURE_REPOS.tinyLlm)).toBe(head);
  });
});
