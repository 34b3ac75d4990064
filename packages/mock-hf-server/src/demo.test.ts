import { parseCliArgs } from './cli';
import { createDemoHub, DEMO_BIG_FILE_BYTES, DEMO_REPOS } from './demo';
import { FIXTURE_REPOS, FIXTURE_SHAS, FIXTURE_TOKENS } from './fixtures';
import { handleHubRequest } from './core';

describe('createDemoHub', () => {
  // a small big file keeps the test fast; the demo uses DEMO_BIG_FILE_BYTES
  const hub = createDemoHub({ bigFileBytes: 1024 * 1024 });
  const request = (path: string, token?: string) =>
    handleHubRequest(
      hub,
      {
        method: 'GET',
        url: `http://hub.test${path}`,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      { baseUrl: 'http://hub.test' },
    );

  it('has tiny-llm with several revisions: tag v1.0, main and a dev branch ahead of it', () => {
    const repo = hub.getRepo(FIXTURE_REPOS.tinyLlm);
    expect(hub.resolveRevision(FIXTURE_REPOS.tinyLlm, 'v1.0')).toBe(
      FIXTURE_SHAS.tinyLlm,
    );
    const main = hub.resolveRevision(FIXTURE_REPOS.tinyLlm, 'main')!;
    const dev = hub.resolveRevision(FIXTURE_REPOS.tinyLlm, 'dev')!;
    expect(new Set([FIXTURE_SHAS.tinyLlm, main, dev]).size).toBe(3);
    expect(repo.commits.get(dev)!.parent).toBe(main);
    expect(repo.commits.size).toBeGreaterThanOrEqual(4);
    // the weights changed between v1.0 and main
    expect(
      hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'model.safetensors', 'v1.0')!.sha256,
    ).not.toBe(
      hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'model.safetensors', 'main')!.sha256,
    );
  });

  it('keeps the gated repo closed without a granted token', async () => {
    const path = `/${FIXTURE_REPOS.gated}/resolve/main/model.safetensors`;
    expect((await request(path)).status).toBe(401);
    expect((await request(path, FIXTURE_TOKENS.user)).status).toBe(403);
    expect((await request(path, FIXTURE_TOKENS.granted)).status).toBe(200);
  });

  it('has one large generated file', () => {
    const info = hub.fileInfo(DEMO_REPOS.bigFile, 'model.safetensors')!;
    expect(info.size).toBe(1024 * 1024);
    expect(info.lfs).toBe(true);
    expect(DEMO_BIG_FILE_BYTES).toBe(64 * 1024 * 1024);
  });

  it('is what `mock-hf-server --demo` serves', () => {
    expect(parseCliArgs(['--demo']).demo).toBe(true);
    expect(parseCliArgs([]).demo).toBe(false);
  });
});
