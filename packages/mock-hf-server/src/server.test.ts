import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  downloadFile,
  downloadFileToCacheDir,
  fileExists,
  HubApiError,
  listFiles,
  listModels,
  modelInfo,
  parseSafetensorsMetadata,
  pathsInfo,
  snapshotDownload,
} from '@huggingface/hub';
import { createMockHfServer, MockHfServer } from './server';
import { MockHub } from './hub';
import {
  createFixtureHub,
  FIXTURE_REPOS,
  FIXTURE_SHAS,
  FIXTURE_TOKENS,
} from './fixtures';
import { gitBlobSha1 } from './content';

const sha256 = (data: Uint8Array) =>
  createHash('sha256').update(data).digest('hex');

async function drain<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of gen) {
    out.push(item);
  }
  return out;
}

describe('mock HF server with the real @huggingface/hub client', () => {
  let hub: MockHub;
  let server: MockHfServer;
  let hubUrl: string;

  beforeAll(async () => {
    hub = createFixtureHub();
    // a wide repo for pagination: 40 files in 4 folders (+4 directory entries)
    hub.addRepo({
      id: 'acme/wide',
      files: Array.from({ length: 40 }, (_, i) => ({
        path: `part-${i % 4}/file-${String(i).padStart(2, '0')}.txt`,
        content: `file ${i}\n`,
      })),
    });
    hub.addRepo({
      id: 'acme/generated',
      files: [{ path: 'blob.bin', content: { size: 3_000_000, seed: 'g' } }],
    });
    server = await createMockHfServer({ hub });
    hubUrl = server.url;
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(() => {
    hub.reset();
    hub.setPageSize({ tree: 1000, models: 1000 });
  });

  it('lists files recursively across many Link pages', async () => {
    hub.setPageSize({ tree: 4 });
    const entries = await drain(
      listFiles({ repo: 'acme/wide', recursive: true, hubUrl }),
    );
    const files = entries.filter(e => e.type === 'file');
    const dirs = entries.filter(e => e.type === 'directory');
    expect(files).toHaveLength(40);
    expect(dirs.map(d => d.path)).toEqual([
      'part-0',
      'part-1',
      'part-2',
      'part-3',
    ]);
    expect(new Set(entries.map(e => e.path)).size).toBe(44);
    expect(files.map(f => f.path).sort()).toEqual(hub.filePaths('acme/wide'));
    const file = files.find(f => f.path === 'part-1/file-05.txt')!;
    expect(file.oid).toBe(gitBlobSha1('file 5\n'));
    expect(file.size).toBe(7);
    const pages = hub.findRequests({ path: '/api/models/acme/wide/tree/*' });
    expect(pages.length).toBe(11);
    expect(pages.slice(1).every(p => p.search.includes('cursor='))).toBe(true);
  });

  it('lists a sub folder, non-recursively, with expand', async () => {
    const entries = await drain(
      listFiles({
        repo: FIXTURE_REPOS.diffusion,
        path: 'unet',
        expand: true,
        hubUrl,
      }),
    );
    expect(entries.map(e => e.path)).toEqual([
      'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors',
    ]);
    const weights = entries[1];
    expect(weights.lfs?.oid).toMatch(/^[0-9a-f]{64}$/);
    expect(weights.lfs?.size).toBe(weights.size);
    expect(weights.lastCommit?.id).toBe(FIXTURE_SHAS.diffusion);
    expect(weights.xetHash).toBeUndefined();
  });

  it('answers modelInfo with HEAD, sha, card data and siblings', async () => {
    const info = await modelInfo({
      name: FIXTURE_REPOS.tinyLlm,
      hubUrl,
      additionalFields: ['sha', 'cardData', 'filePaths', 'config', 'tags'],
    });
    expect(info.name).toBe('acme/tiny-llm');
    expect(info.task).toBe('text-generation');
    expect(info.gated).toBe(false);
    expect(info.private).toBe(false);
    expect(info.sha).toBe(hub.headSha(FIXTURE_REPOS.tinyLlm));
    expect(info.cardData).toMatchObject({
      license: 'apache-2.0',
      base_model: 'acme/tiny-llm-base',
      datasets: ['acme/tiny-corpus', 'wikitext'],
    });
    expect(info.filePaths).toEqual(
      expect.arrayContaining(['config.json', 'onnx/model.onnx', 'README.md']),
    );
    expect(info.config).toMatchObject({ model_type: 'llama' });
    expect(info.tags).toEqual(expect.arrayContaining(['license:apache-2.0']));
    expect(info.updatedAt.getTime()).not.toBeNaN();
    const request = hub.findRequests({ path: /revision\/HEAD\?/ });
    expect(request).toHaveLength(1);

    const old = await modelInfo({
      name: FIXTURE_REPOS.tinyLlm,
      revision: 'v1.0',
      hubUrl,
      additionalFields: ['sha'],
    });
    expect(old.sha).toBe(FIXTURE_SHAS.tinyLlm);
  });

  it('reflects upstream drift after a new commit', async () => {
    const before = hub.headSha(FIXTURE_REPOS.embedding);
    const after = hub.commit(FIXTURE_REPOS.embedding, {
      files: [{ path: 'NOTICE', content: 'new file\n' }],
      title: 'Add NOTICE',
    });
    const info = await modelInfo({
      name: FIXTURE_REPOS.embedding,
      hubUrl,
      additionalFields: ['sha'],
    });
    expect(info.sha).toBe(after);
    expect(after).not.toBe(before);
    const [entry] = await pathsInfo({
      repo: FIXTURE_REPOS.embedding,
      paths: ['NOTICE'],
      expand: true,
      hubUrl,
    });
    expect(entry.lastCommit).toMatchObject({ id: after, title: 'Add NOTICE' });
    expect(
      await fileExists({
        repo: FIXTURE_REPOS.embedding,
        path: 'NOTICE',
        revision: before,
        hubUrl,
      }),
    ).toBe(false);
  });

  it('downloads files whose hashes match the tree', async () => {
    const [config] = await drain(
      listFiles({ repo: FIXTURE_REPOS.tinyLlm, path: '', hubUrl }),
    ).then(e => e.filter(x => x.path === 'config.json'));
    const blob = await downloadFile({
      repo: FIXTURE_REPOS.tinyLlm,
      path: 'config.json',
      hubUrl,
    });
    const bytes = new Uint8Array(await blob!.arrayBuffer());
    expect(gitBlobSha1(bytes)).toBe(config.oid);
    expect(JSON.parse(Buffer.from(bytes).toString()).model_type).toBe('llama');

    const [onnx] = await drain(
      listFiles({ repo: FIXTURE_REPOS.tinyLlm, path: 'onnx', hubUrl }),
    );
    const onnxBlob = await downloadFile({
      repo: FIXTURE_REPOS.tinyLlm,
      path: onnx.path,
      hubUrl,
      xet: false,
    });
    expect(onnxBlob!.size).toBe(onnx.size);
    expect(sha256(new Uint8Array(await onnxBlob!.arrayBuffer()))).toBe(
      onnx.lfs!.oid,
    );

    expect(
      await downloadFile({
        repo: FIXTURE_REPOS.tinyLlm,
        path: 'nope.json',
        hubUrl,
      }),
    ).toBeNull();
  });

  it('streams a multi-megabyte generated file and supports slices', async () => {
    const info = hub.fileInfo('acme/generated', 'blob.bin')!;
    const blob = await downloadFile({
      repo: 'acme/generated',
      path: 'blob.bin',
      hubUrl,
    });
    expect(blob!.size).toBe(3_000_000);
    const hash = createHash('sha256');
    const reader = blob!.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
    }
    expect(hash.digest('hex')).toBe(info.sha256);
    const tail = new Uint8Array(await blob!.slice(2_999_990).arrayBuffer());
    expect(
      Buffer.from(tail).equals(
        hub.fileContent('acme/generated', 'blob.bin').subarray(2_999_990),
      ),
    ).toBe(true);
  });

  it('checks existence with HEAD on /raw', async () => {
    expect(
      await fileExists({
        repo: FIXTURE_REPOS.tinyLlm,
        path: 'onnx/model.onnx',
        hubUrl,
      }),
    ).toBe(true);
    expect(
      await fileExists({
        repo: FIXTURE_REPOS.tinyLlm,
        path: 'missing.bin',
        hubUrl,
      }),
    ).toBe(false);
    expect(hub.requests.every(r => r.method === 'HEAD')).toBe(true);
  });

  it('parses safetensors metadata with range requests (single and sharded)', async () => {
    const single = await parseSafetensorsMetadata({
      repo: FIXTURE_REPOS.tinyLlm,
      hubUrl,
      computeParametersCount: true,
    });
    expect(single).toMatchObject({
      sharded: false,
      header: {
        'model.embed_tokens.weight': { dtype: 'F32', shape: [64, 16] },
      },
    });
    expect(single.parameterCount).toEqual({
      F32: 64 * 16 * 2 + 16 * 16 * 4 + 32 * 16 * 2 + 16,
    });
    expect(hub.requests.some(r => r.range === 'bytes=0-7')).toBe(true);

    const sharded = await parseSafetensorsMetadata({
      repo: FIXTURE_REPOS.edgeCases,
      hubUrl,
    });
    expect(sharded).toMatchObject({
      sharded: true,
      headers: {
        'model-00001-of-00002.safetensors': { 'a.weight': { dtype: 'F32' } },
        'model-00002-of-00002.safetensors': { 'b.weight': { dtype: 'F16' } },
      },
    });
  });

  it('answers paths-info for JSON and form bodies, omitting missing paths', async () => {
    const entries = await pathsInfo({
      repo: FIXTURE_REPOS.tinyLlm,
      paths: ['config.json', 'onnx/model.onnx', 'does/not/exist'],
      expand: true,
      hubUrl,
    });
    expect(entries.map(e => e.path)).toEqual([
      'config.json',
      'onnx/model.onnx',
    ]);
    expect(entries[1].lfs?.oid).toBe(
      hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'onnx/model.onnx')!.sha256,
    );

    const res = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}/paths-info/main`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'paths=onnx&paths=README.md&expand=false',
      },
    );
    expect(res.status).toBe(200);
    const form = await res.json();
    expect(form.map((e: any) => [e.type, e.path])).toEqual([
      ['directory', 'onnx'],
      ['file', 'README.md'],
    ]);
    expect(form[0].lastCommit).toBeUndefined();
  });

  it('rejects gated repos with the HF error contract', async () => {
    const url = `${hubUrl}/${FIXTURE_REPOS.gated}/resolve/main/model.safetensors`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-error-code')).toBe('GatedRepo');
    expect(anonymous.headers.get('x-error-message')).toMatch(/Please log in/);
    expect((await anonymous.json()).error).toMatch(/restricted/);

    const notGranted = await fetch(url, {
      headers: { Authorization: `Bearer ${FIXTURE_TOKENS.user}` },
    });
    expect(notGranted.status).toBe(403);
    expect(notGranted.headers.get('x-error-code')).toBe('GatedRepo');

    await expect(
      downloadFile({
        repo: FIXTURE_REPOS.gated,
        path: 'model.safetensors',
        hubUrl,
        accessToken: FIXTURE_TOKENS.user,
      }),
    ).rejects.toMatchObject({
      statusCode: 403,
      message: expect.stringMatching(/not in the authorized list/),
    });

    const granted = await downloadFile({
      repo: FIXTURE_REPOS.gated,
      path: 'model.safetensors',
      hubUrl,
      accessToken: FIXTURE_TOKENS.granted,
    });
    expect(granted!.size).toBe(
      hub.fileInfo(FIXTURE_REPOS.gated, 'model.safetensors')!.size,
    );

    // metadata and the README stay public
    const info = await modelInfo({ name: FIXTURE_REPOS.gated, hubUrl });
    expect(info.gated).toBe('manual');
    expect(
      (await fetch(`${hubUrl}/${FIXTURE_REPOS.gated}/resolve/main/README.md`))
        .status,
    ).toBe(200);
  });

  it('hides private repos and reports missing repos, revisions and entries', async () => {
    const anon = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.privateModel}`,
    );
    expect(anon.status).toBe(401);
    expect(anon.headers.get('x-error-code')).toBe('RepoNotFound');
    const user = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.privateModel}`,
      {
        headers: { Authorization: `Bearer ${FIXTURE_TOKENS.user}` },
      },
    );
    expect(user.status).toBe(404);
    const admin = await modelInfo({
      name: FIXTURE_REPOS.privateModel,
      hubUrl,
      accessToken: FIXTURE_TOKENS.admin,
    });
    expect(admin.private).toBe(true);

    const badToken = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}`,
      {
        headers: { Authorization: 'Bearer hf_not_a_token' },
      },
    );
    expect(badToken.status).toBe(401);

    const rev = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}/revision/nope`,
    );
    expect(rev.status).toBe(404);
    expect(rev.headers.get('x-error-code')).toBe('RevisionNotFound');

    const entry = await fetch(
      `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/nope.txt`,
      { method: 'HEAD' },
    );
    expect(entry.status).toBe(404);
    expect(entry.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(entry.headers.get('x-repo-commit')).toBe(
      hub.headSha(FIXTURE_REPOS.tinyLlm),
    );

    const tree = await fetch(
      `${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}/tree/main/additional_chat_templates`,
    );
    expect(tree.status).toBe(404);
    expect(tree.headers.get('x-error-code')).toBe('EntryNotFound');

    const dataset = await fetch(
      `${hubUrl}/datasets/acme/data/resolve/main/x.csv`,
    );
    expect(dataset.status).toBe(401);
    expect(dataset.headers.get('x-error-code')).toBe('RepoNotFound');

    await expect(
      modelInfo({ name: 'nobody/nothing', hubUrl }),
    ).rejects.toBeInstanceOf(HubApiError);
  });

  it('serves a 429 with Retry-After, then succeeds on retry', async () => {
    const handle = hub.script({
      match: { method: 'GET', path: `/${FIXTURE_REPOS.tinyLlm}/resolve/*` },
      times: 2,
      fault: { status: 429, retryAfter: 0 },
    });
    const url = `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/config.json`;
    const statuses: number[] = [];
    let res: Response;
    for (;;) {
      res = await fetch(url);
      statuses.push(res.status);
      if (res.status !== 429) break;
      expect(res.headers.get('retry-after')).toBe('0');
      const waitMs = Number(res.headers.get('retry-after')) * 1000;
      await res.arrayBuffer();
      await new Promise(r => setTimeout(r, waitMs));
    }
    expect(statuses).toEqual([429, 429, 200]);
    expect(JSON.parse(await res.text()).model_type).toBe('llama');
    expect(handle.hits).toBe(2);
    expect(hub.requests.filter(r => r.fault)).toHaveLength(2);
  });

  it('serves 5xx faults and delays', async () => {
    hub.script({
      match: { path: /\/api\/models\/acme\/tiny-llm$/ },
      times: 1,
      fault: { status: 503, retryAfter: 1 },
    });
    const res = await fetch(`${hubUrl}/api/models/acme/tiny-llm`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${hubUrl}/api/models/acme/tiny-llm`)).status).toBe(
      200,
    );

    hub.script({
      match: { path: '/api/models/acme/mini-embed' },
      times: 1,
      fault: { delayMs: 150 },
    });
    const start = Date.now();
    expect((await fetch(`${hubUrl}/api/models/acme/mini-embed`)).status).toBe(
      200,
    );
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
  });

  it('serves wrong bytes with the correct headers', async () => {
    const info = hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'onnx/model.onnx')!;
    hub.script({
      match: { path: '*/onnx/model.onnx' },
      times: 1,
      fault: { wrongBytes: true },
    });
    const res = await fetch(
      `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/onnx/model.onnx`,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-linked-etag')).toBe(`"${info.sha256}"`);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(info.size);
    expect(sha256(body)).not.toBe(info.sha256);
    const good = new Uint8Array(
      await (
        await fetch(
          `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/onnx/model.onnx`,
        )
      ).arrayBuffer(),
    );
    expect(sha256(good)).toBe(info.sha256);
  });

  it('cuts the connection mid-body', async () => {
    hub.script({
      match: { path: '/acme/generated/resolve/main/blob.bin' },
      times: 1,
      fault: { cutAfterBytes: 100_000 },
    });
    const res = await fetch(`${hubUrl}/acme/generated/resolve/main/blob.bin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('3000000');
    await expect(res.arrayBuffer()).rejects.toThrow();
    // resume with a Range request
    const resumed = await fetch(
      `${hubUrl}/acme/generated/resolve/main/blob.bin`,
      {
        headers: { Range: 'bytes=100000-' },
      },
    );
    expect(resumed.status).toBe(206);
    expect(resumed.headers.get('content-range')).toBe(
      'bytes 100000-2999999/3000000',
    );
    expect((await resumed.arrayBuffer()).byteLength).toBe(2_900_000);
  });

  it('handles Range edge cases', async () => {
    const base = `${hubUrl}/${FIXTURE_REPOS.edgeCases}/resolve/main`;
    const empty = await fetch(`${base}/empty.txt`, {
      headers: { Range: 'bytes=0-0' },
    });
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-length')).toBe('0');
    expect(empty.headers.get('content-range')).toBe('bytes */0');
    expect((await empty.arrayBuffer()).byteLength).toBe(0);

    const one = await fetch(`${base}/one-byte.bin`, {
      headers: { Range: 'bytes=0-0' },
    });
    expect(one.status).toBe(206);
    expect(one.headers.get('content-range')).toBe('bytes 0-0/1');
    expect(await one.text()).toBe('x');

    const size = hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'config.json')!.size;
    const content = hub.fileContent(FIXTURE_REPOS.tinyLlm, 'config.json');
    const cfg = `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/config.json`;
    const last = await fetch(cfg, {
      headers: { Range: `bytes=${size - 1}-${size - 1}` },
    });
    expect(last.status).toBe(206);
    expect(last.headers.get('content-range')).toBe(
      `bytes ${size - 1}-${size - 1}/${size}`,
    );
    expect(
      Buffer.from(await last.arrayBuffer()).equals(content.subarray(size - 1)),
    ).toBe(true);

    const suffix = await fetch(cfg, { headers: { Range: 'bytes=-5' } });
    expect(suffix.status).toBe(206);
    expect(
      Buffer.from(await suffix.arrayBuffer()).equals(
        content.subarray(size - 5),
      ),
    ).toBe(true);

    const beyond = await fetch(cfg, {
      headers: { Range: `bytes=10-${size + 100}` },
    });
    expect(beyond.status).toBe(206);
    expect(beyond.headers.get('content-range')).toBe(
      `bytes 10-${size - 1}/${size}`,
    );
    await beyond.arrayBuffer();

    const past = await fetch(cfg, { headers: { Range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    await past.arrayBuffer();
  });

  it('answers HEAD with full metadata and no body', async () => {
    const info = hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'model.safetensors')!;
    const res = await fetch(
      `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/main/model.safetensors`,
      {
        method: 'HEAD',
        headers: { 'Accept-Encoding': 'identity' },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(info.size));
    expect(res.headers.get('x-linked-size')).toBe(String(info.size));
    expect(res.headers.get('etag')).toBe(`"${info.sha256}"`);
    expect(res.headers.get('x-repo-commit')).toBe(
      hub.headSha(FIXTURE_REPOS.tinyLlm),
    );
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('cache-control')).toMatch(/no-transform/);
    expect((await res.arrayBuffer()).byteLength).toBe(0);

    const raw = await fetch(
      `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/raw/main/model.safetensors`,
    );
    const pointer = await raw.text();
    expect(pointer).toContain(`oid sha256:${info.sha256}`);
    expect(raw.headers.get('etag')).toBe(`"${info.oid}"`);
    expect(gitBlobSha1(pointer)).toBe(info.oid);
  });

  it('supports refs, commits, encoded and raw refs/pr revisions', async () => {
    hub.setBranch(FIXTURE_REPOS.tinyLlm, 'refs/pr/1', FIXTURE_SHAS.tinyLlm);
    const refs = await (
      await fetch(`${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}/refs`)
    ).json();
    expect(refs.tags).toEqual([
      {
        name: 'v1.0',
        ref: 'refs/tags/v1.0',
        targetCommit: FIXTURE_SHAS.tinyLlm,
      },
    ]);
    expect(refs.branches.map((b: any) => b.name)).toEqual([
      'main',
      'refs/pr/1',
    ]);

    const viaRaw = await drain(
      listFiles({
        repo: FIXTURE_REPOS.tinyLlm,
        revision: 'refs/pr/1',
        path: 'onnx',
        hubUrl,
      }),
    );
    expect(viaRaw).toHaveLength(2);
    const encoded = await modelInfo({
      name: FIXTURE_REPOS.tinyLlm,
      revision: 'refs/pr/1',
      hubUrl,
      additionalFields: ['sha'],
    });
    expect(encoded.sha).toBe(FIXTURE_SHAS.tinyLlm);
    const file = await fetch(
      `${hubUrl}/${FIXTURE_REPOS.tinyLlm}/resolve/refs%2Fpr%2F1/generation_config.json`,
    );
    expect((await file.json()).max_new_tokens).toBe(32);

    const commits = await (
      await fetch(`${hubUrl}/api/models/${FIXTURE_REPOS.tinyLlm}/commits/main`)
    ).json();
    expect(commits.map((c: any) => c.title)).toEqual([
      'Update generation config',
      'initial commit',
    ]);
  });

  it('lists models with search, author and Link pagination', async () => {
    hub.setPageSize({ models: 2 });
    const all = await drain(listModels({ hubUrl, search: { owner: 'acme' } }));
    expect(all.map(m => m.name)).toEqual([
      'acme/tiny-llm',
      'acme/tiny-diffusion',
      'acme/mini-embed',
      'acme/edge-cases',
      'acme/wide',
      'acme/generated',
    ]);
    const found = await drain(
      listModels({
        hubUrl,
        search: { query: 'embed' },
        additionalFields: ['cardData'],
      }),
    );
    expect(found.map(m => m.name)).toEqual(['acme/mini-embed']);
    expect(found[0].cardData).toMatchObject({ license: 'mit' });
    const withPrivate = await drain(
      listModels({
        hubUrl,
        search: { owner: 'acme' },
        accessToken: FIXTURE_TOKENS.admin,
      }),
    );
    expect(withPrivate.map(m => m.name)).toContain('acme/private-model');
    const res = await fetch(`${hubUrl}/api/models?author=acme&limit=1`);
    expect(res.headers.get('link')).toMatch(
      /^<http:\/\/127\.0\.0\.1:\d+\/api\/models\?author=acme&limit=1&cursor=[^>]+>; rel="next"$/,
    );
  });

  it('works with downloadFileToCacheDir and snapshotDownload', async () => {
    const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mock-hf-cache-'));
    const debug = jest.spyOn(console, 'debug').mockImplementation(() => {});
    try {
      const file = await downloadFileToCacheDir({
        repo: FIXTURE_REPOS.tinyLlm,
        path: 'onnx/model.onnx',
        hubUrl,
        cacheDir,
      });
      const bytes = await fs.readFile(file);
      expect(sha256(bytes)).toBe(
        hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'onnx/model.onnx')!.sha256,
      );

      const snapshot = await snapshotDownload({
        repo: FIXTURE_REPOS.edgeCases,
        hubUrl,
        cacheDir,
      });
      expect(snapshot).toContain(FIXTURE_SHAS.edgeCases);
      expect(await fs.readFile(path.join(snapshot, 'empty.txt'), 'utf8')).toBe(
        '',
      );
      expect(
        await fs.readFile(
          path.join(snapshot, 'dir with space', 'file name.txt'),
          'utf8',
        ),
      ).toBe('spaces\n');
      expect(
        await fs.readFile(path.join(snapshot, 'unicodé', 'naïve.json'), 'utf8'),
      ).toBe('{"ok":true}\n');
    } finally {
      debug.mockRestore();
      await fs.rm(cacheDir, { recursive: true, force: true });
    }
  });
});
