import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  downloadFile,
  downloadFileToCacheDir,
  fileExists,
  listFiles,
  modelInfo,
  parseSafetensorsMetadata,
  pathsInfo,
  snapshotDownload,
} from '@huggingface/hub';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import {
  MirrorHarness,
  safetensorsFile,
  startMirrorHarness,
} from './__testUtils__/mirrorHarness';
import { gitBlobSha1, lfsPointer } from './gitObjects';
import { MIRROR_ROUTES } from './createMirror';
import { ConfigReader } from '@backstage/config';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { readMirrorConfig } from './config';

jest.setTimeout(120_000);

beforeAll(() => {
  // downloadFileToCacheDir logs every download with console.debug
  jest.spyOn(console, 'debug').mockImplementation(() => {});
});

const mockDir = createMockDirectory();
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const ALICE = 'user:default/alice';
const CONFIG = Buffer.from('{"model_type":"gpt2","n_layer":2}\n');
const SAFETENSORS = safetensorsFile();
const README = Buffer.from('# Tiny\n');
const NESTED = Buffer.from('nested file\n');
/** 30 small files: with 3 entries a page, ≥ 10 pages of tree. */
const SHARDS = Object.fromEntries(
  Array.from({ length: 30 }, (_, i) => [
    `shards/part-${String(i).padStart(2, '0')}.txt`,
    `part ${i}\n`,
  ]),
);
const V1_FILES = {
  'config.json': CONFIG,
  'model.safetensors': SAFETENSORS,
  'README.md': README,
  'empty.txt': Buffer.alloc(0),
  'sub/dir/file.txt': NESTED,
  ...SHARDS,
};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A fetch that counts requests by path, for @huggingface/hub calls. */
function countingFetch() {
  const calls: string[] = [];
  const f: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : (input as Request).url;
    calls.push(`${init?.method ?? 'GET'} ${url}`);
    return fetch(input, init);
  };
  return { fetch: f, calls };
}

describe.each(databases.eachSupportedId())('HF mirror on %p', databaseId => {
  let h: MirrorHarness;
  let token: string;
  let v1Commit: string;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, databaseId),
    });
    h = await startMirrorHarness({
      knex,
      artifacts,
      mirrorConfig: { treePageSize: 3 },
    });
    const model = await h.addModel('acme', 'tiny');
    const v1 = await h.addVersion(model, 'v1', V1_FILES);
    await h.setState(v1, 'approved');
    const v2 = await h.addVersion(model, 'v2', {
      'config.json': '{"draft":true}',
    });
    await h.setState(v2, 'in_review');

    const created = await fetch(`${h.baseUrl}/tokens`, {
      method: 'POST',
      headers: {
        Authorization: mockCredentials.user.header(ALICE),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: 'laptop' }),
    });
    if (created.status !== 201) {
      throw new Error(`Creating a token failed: HTTP ${created.status}`);
    }
    token = (await created.json()).token;
    const info = await modelInfo({
      name: 'acme/tiny',
      hubUrl: h.hubUrl,
      accessToken: token,
      additionalFields: ['sha'],
    });
    v1Commit = (info as any).sha;
  });

  afterAll(async () => {
    await h?.stop();
  });

  const credentials = () => ({ hubUrl: h.hubUrl, accessToken: token });

  it('answers model info for main and HEAD with a 40-hex sha', async () => {
    expect(v1Commit).toMatch(/^[0-9a-f]{40}$/);
    const info: any = await modelInfo({
      name: 'acme/tiny',
      revision: 'main',
      additionalFields: ['sha', 'filePaths' as any],
      ...credentials(),
    });
    expect(info.name).toBe('acme/tiny');
    expect(info.sha).toBe(v1Commit);
    expect(info.task).toBe('text-generation');
    const res = await fetch(`${h.hubUrl}/api/models/acme/tiny?blobs=true`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    expect(body.id).toBe('acme/tiny');
    expect(body.sha).toBe(v1Commit);
    const st = body.siblings.find(
      (s: any) => s.rfilename === 'model.safetensors',
    );
    expect(st.lfs).toEqual({
      sha256: sha256(SAFETENSORS),
      size: SAFETENSORS.length,
      pointerSize: lfsPointer(sha256(SAFETENSORS), SAFETENSORS.length).length,
    });
    const head = await fetch(`${h.hubUrl}/api/models/acme/tiny/revision/v1`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(head.status).toBe(200);
  });

  it('lists files over many pages with absolute Link headers', async () => {
    const { fetch: f, calls } = countingFetch();
    const entries = [];
    for await (const entry of listFiles({
      repo: 'acme/tiny',
      recursive: true,
      fetch: f,
      ...credentials(),
    })) {
      entries.push(entry);
    }
    const treeCalls = calls.filter(c => c.includes('/tree/'));
    expect(treeCalls.length).toBeGreaterThanOrEqual(10);
    const files = entries.filter(e => e.type === 'file').map(e => e.path);
    expect(files.sort()).toEqual(Object.keys(V1_FILES).sort());
    expect(
      entries.filter(e => e.type === 'directory').map(e => e.path),
    ).toEqual(['shards', 'sub', 'sub/dir']);
    const config = entries.find(e => e.path === 'config.json')!;
    expect(config.oid).toBe(gitBlobSha1(CONFIG));
    expect(config.lfs).toBeUndefined();
    const st = entries.find(e => e.path === 'model.safetensors')!;
    expect(st.lfs?.oid).toBe(sha256(SAFETENSORS));
    expect(st.oid).toBe(
      gitBlobSha1(lfsPointer(sha256(SAFETENSORS), SAFETENSORS.length)),
    );
    expect((st as any).xetHash).toBeUndefined();

    const res = await fetch(
      `${h.hubUrl}/api/models/acme/tiny/tree/main?recursive=true`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(res.headers.get('link')).toMatch(
      new RegExp(
        `^<${h.hubUrl.replace(
          /[.]/g,
          '\\.',
        )}/api/models/acme/tiny/tree/main\\?recursive=true&expand=false&limit=3&cursor=[\\w-]+>; rel="next"$`,
      ),
    );
  });

  it('lists a sub-directory, raw or encoded, and 404s a missing one', async () => {
    const entries = [];
    for await (const entry of listFiles({
      repo: 'acme/tiny',
      path: 'sub',
      expand: true,
      ...credentials(),
    })) {
      entries.push(entry);
    }
    expect(entries).toEqual([
      expect.objectContaining({
        type: 'directory',
        path: 'sub/dir',
        lastCommit: expect.objectContaining({ id: v1Commit }),
      }),
    ]);
    const encoded = await fetch(
      `${h.hubUrl}/api/models/acme/tiny/tree/main/sub%2Fdir`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect((await encoded.json()).map((e: any) => e.path)).toEqual([
      'sub/dir/file.txt',
    ]);
    const missing = await fetch(
      `${h.hubUrl}/api/models/acme/tiny/tree/main/additional_chat_templates?recursive=false&expand=false`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(missing.headers.get('x-repo-commit')).toBe(v1Commit);
  });

  it('answers paths-info for JSON and form bodies', async () => {
    const info = await pathsInfo({
      repo: 'acme/tiny',
      paths: ['config.json', 'missing.txt', 'sub'],
      expand: true,
      ...credentials(),
    });
    expect(info.map(i => i.path)).toEqual(['config.json', 'sub']);
    expect(info[0].lastCommit?.id).toBe(v1Commit);
    const form = await fetch(
      `${h.hubUrl}/api/models/acme/tiny/paths-info/${v1Commit}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: 'paths=config.json&paths=model.safetensors&expand=false',
      },
    );
    expect(form.status).toBe(200);
    const body = await form.json();
    expect(body.map((e: any) => e.path)).toEqual([
      'config.json',
      'model.safetensors',
    ]);
    expect(body[1].lfs.oid).toBe(sha256(SAFETENSORS));
    expect(body[0].lastCommit).toBeUndefined();
  });

  it('downloads files and returns null for a missing one', async () => {
    const blob = await downloadFile({
      repo: 'acme/tiny',
      path: 'config.json',
      ...credentials(),
    });
    expect(Buffer.from(await blob!.arrayBuffer())).toEqual(CONFIG);
    const st = await downloadFile({
      repo: 'acme/tiny',
      path: 'model.safetensors',
      revision: v1Commit,
      ...credentials(),
    });
    expect(Buffer.from(await st!.arrayBuffer())).toEqual(SAFETENSORS);
    // a slice is a Range request
    expect(Buffer.from(await st!.slice(8, 16).arrayBuffer())).toEqual(
      SAFETENSORS.subarray(8, 16),
    );
    const empty = await downloadFile({
      repo: 'acme/tiny',
      path: 'empty.txt',
      ...credentials(),
    });
    expect(empty!.size).toBe(0);
    expect(
      await downloadFile({
        repo: 'acme/tiny',
        path: 'missing.bin',
        ...credentials(),
      }),
    ).toBeNull();
  });

  it('downloads a snapshot into the HF cache layout', async () => {
    const cacheDir = join(mockDir.path, `cache-${databaseId}`);
    const snapshot = await snapshotDownload({
      repo: 'acme/tiny',
      cacheDir,
      ...credentials(),
    });
    const repoDir = join(cacheDir, 'models--acme--tiny');
    expect(snapshot).toBe(join(repoDir, 'snapshots', v1Commit));
    expect(
      (await fs.readFile(join(repoDir, 'refs', 'main'), 'utf8')).trim(),
    ).toBe(v1Commit);
    for (const [path, content] of Object.entries(V1_FILES)) {
      expect(await fs.readFile(join(snapshot, path))).toEqual(
        Buffer.from(content),
      );
    }
    // blobs are named by the ETag: sha256 for LFS files, git sha1 otherwise
    const link = await fs.readlink(join(snapshot, 'model.safetensors'));
    expect(link.endsWith(`blobs/${sha256(SAFETENSORS)}`)).toBe(true);
    const configLink = await fs.readlink(join(snapshot, 'config.json'));
    expect(configLink.endsWith(`blobs/${gitBlobSha1(CONFIG)}`)).toBe(true);

    const single = await downloadFileToCacheDir({
      repo: 'acme/tiny',
      path: 'sub/dir/file.txt',
      revision: 'v1',
      cacheDir: join(mockDir.path, `cache2-${databaseId}`),
      ...credentials(),
    });
    expect(await fs.readFile(single)).toEqual(NESTED);
  });

  it('answers fileExists and parses safetensors metadata with ranges', async () => {
    expect(
      await fileExists({
        repo: 'acme/tiny',
        path: 'config.json',
        ...credentials(),
      }),
    ).toBe(true);
    expect(
      await fileExists({
        repo: 'acme/tiny',
        path: 'nope.txt',
        ...credentials(),
      }),
    ).toBe(false);
    const { fetch: f, calls } = countingFetch();
    const meta = await parseSafetensorsMetadata({
      repo: 'acme/tiny',
      computeParametersCount: true,
      fetch: f,
      ...credentials(),
    });
    expect(meta.sharded).toBe(false);
    expect((meta as any).header.weight).toEqual({
      dtype: 'F32',
      shape: [2, 3],
      data_offsets: [0, 24],
    });
    expect((meta as any).parameterCount).toEqual({ F32: 6 });
    expect(calls.some(c => c.startsWith('HEAD') && c.includes('/raw/'))).toBe(
      true,
    );
  });

  it('answers HEAD with the metadata Python clients need', async () => {
    const lfs = await fetch(
      `${h.hubUrl}/acme/tiny/resolve/main/model.safetensors`,
      {
        method: 'HEAD',
        headers: {
          Authorization: `Bearer ${token}`,
          'Accept-Encoding': 'identity',
        },
      },
    );
    expect(lfs.status).toBe(200);
    expect(lfs.headers.get('x-repo-commit')).toBe(v1Commit);
    expect(lfs.headers.get('etag')).toBe(`"${sha256(SAFETENSORS)}"`);
    expect(lfs.headers.get('x-linked-etag')).toBe(`"${sha256(SAFETENSORS)}"`);
    expect(lfs.headers.get('x-linked-size')).toBe(String(SAFETENSORS.length));
    expect(lfs.headers.get('content-length')).toBe(String(SAFETENSORS.length));
    expect(lfs.headers.get('accept-ranges')).toBe('bytes');
    expect(lfs.headers.get('cache-control')).toContain('no-transform');
    expect(lfs.headers.get('content-type')).not.toContain('xet');
    expect([...lfs.headers.keys()].some(k => k.startsWith('x-xet'))).toBe(
      false,
    );

    const small = await fetch(`${h.hubUrl}/acme/tiny/resolve/v1/config.json`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(small.headers.get('etag')).toBe(`"${gitBlobSha1(CONFIG)}"`);
    expect(small.headers.get('x-linked-etag')).toBeNull();
    expect(small.headers.get('content-length')).toBe(String(CONFIG.length));

    const missing = await fetch(`${h.hubUrl}/acme/tiny/resolve/main/nope.bin`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(missing.headers.get('x-repo-commit')).toBe(v1Commit);

    const raw = await fetch(
      `${h.hubUrl}/acme/tiny/raw/main/model.safetensors`,
      {
        headers: { Authorization: `Bearer ${token}` },
      },
    );
    const pointer = lfsPointer(sha256(SAFETENSORS), SAFETENSORS.length);
    expect(Buffer.from(await raw.arrayBuffer())).toEqual(pointer);
    expect(raw.headers.get('etag')).toBe(`"${gitBlobSha1(pointer)}"`);
  });

  it('handles Range edge cases', async () => {
    const get = (path: string, range?: string, method = 'GET') =>
      fetch(`${h.hubUrl}/acme/tiny/resolve/main/${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(range ? { Range: range } : {}),
        },
      });
    const size = SAFETENSORS.length;
    // the probe of JS and transformers.js
    const probe = await get('model.safetensors', 'bytes=0-0');
    expect(probe.status).toBe(206);
    expect(probe.headers.get('content-range')).toBe(`bytes 0-0/${size}`);
    expect(Buffer.from(await probe.arrayBuffer())).toEqual(
      SAFETENSORS.subarray(0, 1),
    );
    // last byte, by position and as a suffix
    for (const range of [`bytes=${size - 1}-${size - 1}`, 'bytes=-1']) {
      const last = await get('model.safetensors', range);
      expect(last.status).toBe(206);
      expect(last.headers.get('content-range')).toBe(
        `bytes ${size - 1}-${size - 1}/${size}`,
      );
      expect(last.headers.get('content-length')).toBe('1');
      expect(Buffer.from(await last.arrayBuffer())).toEqual(
        SAFETENSORS.subarray(size - 1),
      );
    }
    // an end past the end is clipped
    const clipped = await get(
      'model.safetensors',
      `bytes=${size - 4}-${size + 100}`,
    );
    expect(clipped.status).toBe(206);
    expect(clipped.headers.get('content-range')).toBe(
      `bytes ${size - 4}-${size - 1}/${size}`,
    );
    // a start past the end is unsatisfiable
    const past = await get('model.safetensors', `bytes=${size}-`);
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    const pastHead = await get(
      'model.safetensors',
      `bytes=${size + 10}-`,
      'HEAD',
    );
    expect(pastHead.status).toBe(416);
    // a 0-byte file: the probe gets 200 and the size from Content-Range
    const empty = await get('empty.txt', 'bytes=0-0');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-length')).toBe('0');
    expect(empty.headers.get('content-range')).toBe('bytes */0');
    expect(empty.headers.get('etag')).toBe(`"${gitBlobSha1(Buffer.alloc(0))}"`);
    const emptyHead = await get('empty.txt', undefined, 'HEAD');
    expect(emptyHead.status).toBe(200);
    expect(emptyHead.headers.get('content-length')).toBe('0');
    // If-Range with another ETag: the whole file
    const ifRange = await fetch(
      `${h.hubUrl}/acme/tiny/resolve/main/model.safetensors`,
      {
        headers: {
          Authorization: `Bearer ${token}`,
          Range: 'bytes=0-3',
          'If-Range': '"other"',
        },
      },
    );
    expect(ifRange.status).toBe(200);
    expect((await ifRange.arrayBuffer()).byteLength).toBe(size);
  });

  it('keeps the git view of versions synced from the Hub', async () => {
    const commit = 'c'.repeat(40);
    const model = await h.addModel('acme', 'synced');
    const weights = Buffer.from('not a known weights extension');
    const tokenizer = Buffer.from('a small tokenizer.model kept in git');
    const version = await h.addVersion(
      model,
      'r1',
      { 'weights.dat': weights, 'tokenizer.model': tokenizer },
      { sourceType: 'huggingface', resolvedCommit: commit },
    );
    await h.setState(version, 'approved');
    const now = new Date();
    await h.knex('hf_repos').insert({
      id: '00000000-0000-4000-8000-000000000001',
      model_id: model.id,
      repo_id: 'upstream/synced',
      revision: 'main',
      sync_state: 'synced',
      last_synced_commit: commit,
      created_by: ALICE,
      created_at: now,
      updated_at: now,
    });
    const pointer = lfsPointer(sha256(weights), weights.length);
    await h.knex('hf_repo_files').insert([
      {
        hf_repo_id: '00000000-0000-4000-8000-000000000001',
        commit,
        path: 'weights.dat',
        size: weights.length,
        oid: gitBlobSha1(pointer),
        lfs_sha256: sha256(weights),
        lfs_pointer_size: pointer.length,
      },
      {
        hf_repo_id: '00000000-0000-4000-8000-000000000001',
        commit,
        path: 'tokenizer.model',
        size: tokenizer.length,
        oid: gitBlobSha1(tokenizer),
        lfs_sha256: null,
        lfs_pointer_size: null,
      },
    ]);
    const entries = [];
    for await (const e of listFiles({
      repo: 'acme/synced',
      ...credentials(),
    })) {
      entries.push(e);
    }
    expect(entries).toEqual([
      {
        type: 'file',
        path: 'tokenizer.model',
        size: tokenizer.length,
        oid: gitBlobSha1(tokenizer),
      },
      {
        type: 'file',
        path: 'weights.dat',
        size: weights.length,
        oid: gitBlobSha1(pointer),
        lfs: {
          oid: sha256(weights),
          size: weights.length,
          pointerSize: pointer.length,
        },
      },
    ]);
    const head = await fetch(
      `${h.hubUrl}/acme/synced/resolve/main/weights.dat`,
      {
        method: 'HEAD',
        headers: { Authorization: `Bearer ${token}` },
      },
    );
    expect(head.headers.get('x-repo-commit')).toBe(commit);
    expect(head.headers.get('x-linked-etag')).toBe(`"${sha256(weights)}"`);

    // clients keep using the upstream repo id
    const info: any = await modelInfo({
      name: 'Upstream/Synced',
      additionalFields: ['sha'],
      ...credentials(),
    });
    expect(info.name).toBe('Upstream/Synced');
    expect(info.sha).toBe(commit);
    const blob = await downloadFile({
      repo: 'upstream/synced',
      path: 'weights.dat',
      revision: commit,
      ...credentials(),
    });
    expect(Buffer.from(await blob!.arrayBuffer())).toEqual(weights);
  });

  it('serves approved versions by label and commit, never others', async () => {
    const byLabel = await fetch(
      `${h.hubUrl}/acme/tiny/resolve/v1/config.json`,
      {
        headers: { Authorization: `Bearer ${token}` },
      },
    );
    expect(Buffer.from(await byLabel.arrayBuffer())).toEqual(CONFIG);
    const byCommit = await fetch(
      `${h.hubUrl}/acme/tiny/resolve/${v1Commit}/config.json`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(byCommit.status).toBe(200);
    expect(byCommit.headers.get('x-repo-commit')).toBe(v1Commit);

    // v2 is in review: not served under its label, nor in refs
    for (const url of [
      `${h.hubUrl}/acme/tiny/resolve/v2/config.json`,
      `${h.hubUrl}/api/models/acme/tiny/revision/v2`,
      `${h.hubUrl}/api/models/acme/tiny/tree/v2`,
    ]) {
      const res = await fetch(url, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('x-error-code')).toBe('RevisionNotFound');
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
    const refs = await (
      await fetch(`${h.hubUrl}/api/models/acme/tiny/refs`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json();
    expect(refs.branches).toEqual([
      { name: 'main', ref: 'refs/heads/main', targetCommit: v1Commit },
    ]);
    expect(refs.tags.map((t: any) => t.name)).toEqual(['v1']);

    // a model without an approved version is not served at all
    const other = await h.addModel('acme', 'draft-only');
    const draft = await h.addVersion(other, 'v1', { 'a.txt': 'a' });
    const res = await fetch(`${h.hubUrl}/api/models/acme/draft-only`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-error-code')).toBe('RepoNotFound');
    const unknown = await fetch(`${h.hubUrl}/acme/nope/resolve/main/a.txt`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-error-code')).toBe('RepoNotFound');

    // approving it serves it; a later approval moves main
    await h.setState(draft, 'approved');
    const approved: any = await modelInfo({
      name: 'acme/draft-only',
      additionalFields: ['sha'],
      ...credentials(),
    });
    expect(approved.sha).toMatch(/^[0-9a-f]{40}$/);
    const v2 = await h.addVersion(other, 'v2', { 'a.txt': 'b' });
    await h.setState(v2, 'approved');
    const main = await fetch(`${h.hubUrl}/acme/draft-only/resolve/main/a.txt`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(await main.text()).toBe('b');
    expect(main.headers.get('x-repo-commit')).not.toBe(approved.sha);
    // the active version of the approvals workflow wins over the latest
    await h.knex('model_active_versions').insert({
      model_id: other.id,
      version_id: draft.id,
      promoted_by: ALICE,
      promoted_at: new Date(),
    });
    const promoted = await fetch(
      `${h.hubUrl}/acme/draft-only/resolve/main/a.txt`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(await promoted.text()).toBe('a');
    expect(promoted.headers.get('x-repo-commit')).toBe(approved.sha);
    await h
      .knex('model_active_versions')
      .where({ model_id: other.id })
      .delete();
    const old = await fetch(
      `${h.hubUrl}/acme/draft-only/resolve/${approved.sha}/a.txt`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    expect(await old.text()).toBe('a');
    // deprecating the active version takes it off the mirror
    await h.setState(v2, 'deprecated');
    const back = await fetch(`${h.hubUrl}/acme/draft-only/resolve/main/a.txt`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(await back.text()).toBe('a');
  });
});

describe('HF mirror authentication', () => {
  let h: MirrorHarness;

  beforeAll(async () => {
    const knex = await databases.init('SQLITE_3');
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, 'auth'),
    });
    h = await startMirrorHarness({ knex, artifacts });
    const model = await h.addModel('acme', 'secure');
    const v1 = await h.addVersion(model, 'v1', { 'config.json': CONFIG });
    await h.setState(v1, 'approved');
  });

  afterAll(async () => {
    await h?.stop();
  });

  async function createToken(user: string, name = 'ci') {
    const res = await fetch(`${h.baseUrl}/tokens`, {
      method: 'POST',
      headers: {
        Authorization: mockCredentials.user.header(user),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name }),
    });
    expect(res.status).toBe(201);
    return res.json();
  }

  const resolveWith = (authorization?: string) =>
    fetch(`${h.hubUrl}/acme/secure/resolve/main/config.json`, {
      headers: authorization ? { Authorization: authorization } : {},
    });

  it('refuses anonymous callers unless configured', async () => {
    const res = await resolveWith();
    expect(res.status).toBe(401);
    expect(res.headers.get('x-error-message')).toContain('Authentication');
    // an hf_ token the portal does not know counts as no credentials
    expect(
      (await resolveWith('Bearer hf_NotAPortalToken0000000000000')).status,
    ).toBe(401);
  });

  it('accepts Backstage user and service credentials, with the permission', async () => {
    const user = await resolveWith(mockCredentials.user.header(ALICE));
    expect(user.status).toBe(200);
    expect(h.authorize).toHaveBeenLastCalledWith(
      [
        {
          permission: expect.objectContaining({
            name: 'model-hub.artifact.download',
          }),
          resourceRef: 'model:acme/secure',
        },
      ],
      {
        credentials: expect.objectContaining({
          principal: expect.objectContaining({ userEntityRef: ALICE }),
        }),
      },
    );
    const service = await resolveWith(mockCredentials.service.header());
    expect(service.status).toBe(200);
    h.policy.authorize = (principal, _ref, permission) =>
      principal === ALICE && permission === 'model-hub.artifact.download'
        ? AuthorizeResult.DENY
        : AuthorizeResult.ALLOW;
    try {
      const denied = await resolveWith(mockCredentials.user.header(ALICE));
      expect(denied.status).toBe(403);
      expect(denied.headers.get('x-error-message')).toContain(
        'model-hub.artifact.download',
      );
    } finally {
      h.policy.authorize = () => AuthorizeResult.ALLOW;
    }
    const bad = await resolveWith('Bearer not-a-valid-token');
    expect(bad.status).toBe(401);
  });

  it('creates, lists and revokes personal tokens; a revoked token is refused', async () => {
    const created = await createToken(ALICE, 'laptop');
    expect(created.token).toMatch(/^hf_[A-Za-z0-9]{34}$/);
    expect(created.prefix).toBe(created.token.slice(0, 7));
    const ok = await resolveWith(`Bearer ${created.token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(CONFIG.toString());

    const list = await fetch(`${h.baseUrl}/tokens`, {
      headers: { Authorization: mockCredentials.user.header(ALICE) },
    });
    const { items } = await list.json();
    const listed = items.find((t: any) => t.id === created.id);
    expect(listed).toEqual(
      expect.objectContaining({ name: 'laptop', prefix: created.prefix }),
    );
    expect(listed.lastUsedAt).toBeDefined();
    expect(JSON.stringify(items)).not.toContain(created.token);

    // another user can neither see nor revoke it
    const bob = await fetch(`${h.baseUrl}/tokens/${created.id}`, {
      method: 'DELETE',
      headers: {
        Authorization: mockCredentials.user.header('user:default/bob'),
      },
    });
    expect(bob.status).toBe(404);
    const revoke = await fetch(`${h.baseUrl}/tokens/${created.id}`, {
      method: 'DELETE',
      headers: { Authorization: mockCredentials.user.header(ALICE) },
    });
    expect(revoke.status).toBe(204);
    const refused = await resolveWith(`Bearer ${created.token}`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-error-message')).toContain('revoked');
    const info = await fetch(`${h.hubUrl}/api/models/acme/secure`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${created.token}` },
    });
    expect(info.status).toBe(401);
  });

  it('answers whoami for tokens, and 401 without one', async () => {
    const created = await createToken(ALICE, 'cli');
    const res = await fetch(`${h.hubUrl}/api/whoami-v2`, {
      headers: { Authorization: `Bearer ${created.token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(
      expect.objectContaining({
        type: 'user',
        name: 'alice',
        auth: expect.objectContaining({
          accessToken: expect.objectContaining({ displayName: 'cli' }),
        }),
      }),
    );
    expect((await fetch(`${h.hubUrl}/api/whoami-v2`)).status).toBe(401);
  });

  it('needs a signed-in user for the token routes and validates input', async () => {
    const anonymous = await fetch(`${h.baseUrl}/tokens`);
    expect(anonymous.status).toBe(401);
    const service = await fetch(`${h.baseUrl}/tokens`, {
      headers: { Authorization: mockCredentials.service.header() },
    });
    expect(service.status).toBe(403);
    const bad = await fetch(`${h.baseUrl}/tokens`, {
      method: 'POST',
      headers: {
        Authorization: mockCredentials.user.header(ALICE),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: '', expiresInDays: 100000 }),
    });
    expect(bad.status).toBe(400);
  });

  it('takes the decision of a token with its owner, again once the cache time is over', async () => {
    const carolMayDownload = (allowed: boolean) => {
      h.policy.authorize = (principal, _ref, permission) =>
        principal === 'user:default/carol' &&
        permission === 'model-hub.artifact.download' &&
        !allowed
          ? AuthorizeResult.DENY
          : AuthorizeResult.ALLOW;
    };
    carolMayDownload(false);
    const created = await createToken('user:default/carol');
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      h.authorize.mockClear();
      const denied = await resolveWith(`Bearer ${created.token}`);
      expect(denied.status).toBe(403);
      expect(h.authorize).toHaveBeenLastCalledWith(
        [
          {
            permission: expect.objectContaining({
              name: 'model-hub.artifact.download',
            }),
            resourceRef: 'model:acme/secure',
          },
        ],
        {
          credentials: expect.objectContaining({
            principal: expect.objectContaining({
              type: 'user',
              userEntityRef: 'user:default/carol',
            }),
          }),
        },
      );
      // the policy changes: the token follows within the cache time
      carolMayDownload(true);
      clock.mockReturnValue(now + 59_000);
      expect((await resolveWith(`Bearer ${created.token}`)).status).toBe(403);
      clock.mockReturnValue(now + 60_000);
      expect((await resolveWith(`Bearer ${created.token}`)).status).toBe(200);
      // listing tokens changes nothing about decisions
      carolMayDownload(false);
      await fetch(`${h.baseUrl}/tokens`, {
        headers: {
          Authorization: mockCredentials.user.header('user:default/carol'),
        },
      });
      expect((await resolveWith(`Bearer ${created.token}`)).status).toBe(200);
      clock.mockReturnValue(now + 120_001);
      expect((await resolveWith(`Bearer ${created.token}`)).status).toBe(403);
    } finally {
      clock.mockRestore();
      h.policy.authorize = () => AuthorizeResult.ALLOW;
    }
    // every use is audited by token id, never with the secret
    const uses = h.auditor.createEvent.mock.calls.filter(
      ([e]: any[]) =>
        e.eventId === 'mirror-token-use' && e.meta.tokenId === created.id,
    );
    expect(uses).toHaveLength(5);
    expect(uses[0][0].meta).toEqual(
      expect.objectContaining({ userEntityRef: 'user:default/carol' }),
    );
    expect(JSON.stringify(uses.map(([e]: any[]) => e.meta))).not.toContain(
      created.token,
    );
  });

  it('lets admins list and revoke the tokens of any user', async () => {
    const DANA = 'user:default/dana';
    h.policy.authorize = (principal, _ref, permission) =>
      permission === 'model-hub.admin' && principal !== DANA
        ? AuthorizeResult.DENY
        : AuthorizeResult.ALLOW;
    try {
      const created = await createToken('user:default/erin', 'erin laptop');
      const list = (who: string, query = '') =>
        fetch(`${h.baseUrl}/admin/tokens${query}`, {
          headers: { Authorization: mockCredentials.user.header(who) },
        });
      expect((await list(ALICE)).status).toBe(403);
      const all = await (await list(DANA)).json();
      expect(all.totalCount).toBeGreaterThan(1);
      expect(all.items.map((t: any) => t.userEntityRef)).toContain(ALICE);
      const erin = await (
        await list(DANA, '?user=user:default/erin&limit=10')
      ).json();
      expect(erin).toEqual(
        expect.objectContaining({ totalCount: 1, offset: 0, limit: 10 }),
      );
      expect(erin.items[0]).toEqual(
        expect.objectContaining({ id: created.id, name: 'erin laptop' }),
      );
      expect(JSON.stringify(erin)).not.toContain(created.token);
      expect((await list(DANA, '?user=alice')).status).toBe(400);
      expect((await list(DANA, '?limit=100000')).status).toBe(400);

      const revoke = (who: string, id: string) =>
        fetch(`${h.baseUrl}/admin/tokens/${id}`, {
          method: 'DELETE',
          headers: { Authorization: mockCredentials.user.header(who) },
        });
      expect((await revoke(ALICE, created.id)).status).toBe(403);
      expect((await resolveWith(`Bearer ${created.token}`)).status).toBe(200);
      expect((await revoke(DANA, created.id)).status).toBe(204);
      expect((await revoke(DANA, crypto.randomUUID())).status).toBe(404);
      expect((await revoke(DANA, 'not-a-uuid')).status).toBe(400);
      const refused = await resolveWith(`Bearer ${created.token}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('x-error-message')).toContain('revoked');
      expect(h.auditor.createEvent).toHaveBeenCalledWith(
        expect.objectContaining({
          eventId: 'mirror-token-revoke',
          meta: { tokenId: created.id, byAdmin: true },
        }),
      );
    } finally {
      h.policy.authorize = () => AuthorizeResult.ALLOW;
    }
  });

  it('refuses a token whose owner can no longer be signed in', async () => {
    const knex = await databases.init('SQLITE_3');
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, 'gone'),
    });
    const gone = new Set<string>();
    const other = await startMirrorHarness({
      knex,
      artifacts,
      mirrorConfig: { tokens: { decisionCacheSeconds: 0 } },
      tokenOwnerCredentials: async ref => {
        if (gone.has(ref)) {
          throw new NotFoundError(`User ${ref} not found in the catalog`);
        }
        return mockCredentials.user(ref);
      },
    });
    try {
      const model = await other.addModel('acme', 'secure');
      const v1 = await other.addVersion(model, 'v1', { 'config.json': CONFIG });
      await other.setState(v1, 'approved');
      const created = await (
        await fetch(`${other.baseUrl}/tokens`, {
          method: 'POST',
          headers: {
            Authorization: mockCredentials.user.header(ALICE),
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({ name: 'ci' }),
        })
      ).json();
      const get = () =>
        fetch(`${other.hubUrl}/acme/secure/resolve/main/config.json`, {
          headers: { Authorization: `Bearer ${created.token}` },
        });
      expect((await get()).status).toBe(200);
      gone.add(ALICE);
      // allowed nothing: neither to see the model (404) nor to download it
      expect([403, 404]).toContain((await get()).status);
      gone.delete(ALICE);
      expect((await get()).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});

describe('HF mirror with anonymous reads', () => {
  it('serves anonymous callers and still refuses revoked tokens', async () => {
    const knex = await databases.init('SQLITE_3');
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, 'anonymous'),
    });
    const h = await startMirrorHarness({
      knex,
      artifacts,
      mirrorConfig: { allowAnonymous: true },
    });
    try {
      const model = await h.addModel('acme', 'open');
      const v1 = await h.addVersion(model, 'v1', { 'config.json': CONFIG });
      await h.setState(v1, 'approved');
      const blob = await downloadFile({
        repo: 'acme/open',
        path: 'config.json',
        hubUrl: h.hubUrl,
      });
      expect(Buffer.from(await blob!.arrayBuffer())).toEqual(CONFIG);
      // a real Hugging Face token (unknown here) reads anonymously
      const foreign = await fetch(
        `${h.hubUrl}/acme/open/resolve/main/config.json`,
        {
          headers: {
            Authorization: 'Bearer hf_SomeRealHuggingFaceToken12345678',
          },
        },
      );
      expect(foreign.status).toBe(200);

      const created = await (
        await fetch(`${h.baseUrl}/tokens`, {
          method: 'POST',
          headers: {
            Authorization: mockCredentials.user.header(ALICE),
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({ name: 'old' }),
        })
      ).json();
      await fetch(`${h.baseUrl}/tokens/${created.id}`, {
        method: 'DELETE',
        headers: { Authorization: mockCredentials.user.header(ALICE) },
      });
      const refused = await fetch(
        `${h.hubUrl}/acme/open/resolve/main/config.json`,
        {
          headers: { Authorization: `Bearer ${created.token}` },
        },
      );
      expect(refused.status).toBe(401);
    } finally {
      await h.stop();
    }
  });
});

describe('HF mirror routes', () => {
  it('registers exactly the documented mirror routes', async () => {
    const knex = await databases.init('SQLITE_3');
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, 'routes'),
    });
    const h = await startMirrorHarness({ knex, artifacts });
    try {
      const layer = (h.app as any)._router.stack.find(
        (l: any) => l.name === 'router',
      );
      const routes = layer.handle.stack
        .filter((l: any) => l.route)
        .flatMap((l: any) =>
          Object.keys(l.route.methods)
            .filter(m => m !== '_all')
            .map(m => `${m.toUpperCase()} ${l.route.path}`),
        )
        .filter((r: string) => / \/(hf|tokens|admin\/tokens)/.test(r));
      expect(routes.sort()).toEqual([...MIRROR_ROUTES].sort());
    } finally {
      await h.stop();
    }
  });
});

describe('HF mirror pull-through', () => {
  it('queues the sync of a repo that is not mirrored, for authenticated callers', async () => {
    const calls: any[] = [];
    let outcome: 'ok' | 'conflict' | 'missing' = 'ok';
    const knex = await databases.init('SQLITE_3');
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, 'pull-through'),
    });
    const h = await startMirrorHarness({
      knex,
      artifacts,
      mirrorConfig: {
        allowAnonymous: true,
        pullThrough: { enabled: true, owner: 'group:default/ml-engineers' },
      },
      registerHubRepo: async options => {
        calls.push(options);
        if (outcome === 'conflict') {
          throw new ConflictError('already registered');
        }
        if (outcome === 'missing') {
          throw new NotFoundError('not on the Hub');
        }
        return {};
      },
    });
    try {
      // anonymous callers never trigger a sync
      const anonymous = await fetch(`${h.hubUrl}/api/models/upstream/new`);
      expect(anonymous.status).toBe(404);
      expect(calls).toHaveLength(0);

      // pulling a repo through registers a model: model-hub.model.create
      h.policy.authorize = (principal, _ref, permission) =>
        permission === 'model-hub.model.create' &&
        principal === 'user:default/carol'
          ? AuthorizeResult.DENY
          : AuthorizeResult.ALLOW;
      const carol = await fetch(
        `${h.hubUrl}/upstream/new/resolve/main/config.json`,
        {
          headers: {
            Authorization: mockCredentials.user.header('user:default/carol'),
          },
        },
      );
      expect(carol.status).toBe(403);
      expect(carol.headers.get('x-error-message')).toContain(
        'model-hub.model.create',
      );
      const carolToken = await (
        await fetch(`${h.baseUrl}/tokens`, {
          method: 'POST',
          headers: {
            Authorization: mockCredentials.user.header('user:default/carol'),
            'Content-Type': 'application/json',
          },
          body: JSON.stringify({ name: 'ci' }),
        })
      ).json();
      const viaToken = await fetch(`${h.hubUrl}/api/models/upstream/new`, {
        headers: { Authorization: `Bearer ${carolToken.token}` },
      });
      expect(viaToken.status).toBe(403);
      expect(calls).toHaveLength(0);

      const user = { Authorization: mockCredentials.user.header(ALICE) };
      const res = await fetch(
        `${h.hubUrl}/upstream/new/resolve/main/config.json`,
        { method: 'HEAD', headers: user },
      );
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(res.headers.get('x-error-message')).toContain('queued');
      expect(calls).toEqual([
        {
          repoId: 'upstream/new',
          revision: 'main',
          owner: 'group:default/ml-engineers',
          createdBy: ALICE,
        },
      ]);
      outcome = 'conflict';
      const again = await fetch(`${h.hubUrl}/api/models/upstream/new`, {
        headers: user,
      });
      expect(again.status).toBe(503);
      outcome = 'missing';
      const missing = await fetch(`${h.hubUrl}/api/models/upstream/none`, {
        headers: user,
      });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-error-code')).toBe('RepoNotFound');
    } finally {
      await h.stop();
    }
  });

  it('needs an owner for pulled models', () => {
    expect(() =>
      readMirrorConfig(
        new ConfigReader({
          modelHub: { mirror: { pullThrough: { enabled: true } } },
        }),
      ),
    ).toThrow(/pullThrough.owner/);
    expect(readMirrorConfig(new ConfigReader({})).pullThrough).toBeUndefined();
  });
});
