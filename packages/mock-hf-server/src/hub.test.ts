import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createContentSource,
  generateBytes,
  gitBlobSha1,
  lfsPointer,
  readAll,
} from './content';
import { MockHub, treeOid } from './hub';
import { bigSafetensorsContent, makeSafetensors } from './safetensors';
import { renderModelCard } from './card';
import { parseCliArgs } from './cli';
import {
  createFixtureHub,
  FIXTURE_REPOS,
  FIXTURE_SHAS,
  generateRepos,
} from './fixtures';

describe('content', () => {
  it('computes git blob sha1 like git', () => {
    expect(gitBlobSha1('hello\n')).toBe(
      'ce013625030ba8dba906f756967f9e9ca394464a',
    );
    expect(gitBlobSha1('')).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });

  it('generates deterministic bytes with random access', () => {
    const spec = { size: 200_000, seed: 'abc', prefix: Buffer.from('HEAD') };
    const a = readAll(createContentSource(spec));
    const b = readAll(createContentSource(spec));
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(200_000);
    expect(a.subarray(0, 4).toString()).toBe('HEAD');
    const source = createContentSource(spec);
    for (const [start, end] of [
      [0, 1],
      [3, 70_000],
      [65_535, 65_537],
      [199_999, 200_000],
    ]) {
      expect(
        Buffer.concat([...source.chunks(start, end)]).equals(
          a.subarray(start, end),
        ),
      ).toBe(true);
    }
    expect(generateBytes(100, 'x').equals(generateBytes(100, 'y'))).toBe(false);
  });

  it('builds LFS pointers', () => {
    expect(lfsPointer('ab'.repeat(32), 12)).toBe(
      `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(
        32,
      )}\nsize 12\n`,
    );
  });
});

describe('safetensors', () => {
  it('builds a valid, aligned file', () => {
    const buf = makeSafetensors({
      tensors: { w: { dtype: 'F32', shape: [2, 3] } },
      metadata: { format: 'pt' },
    });
    const len = Number(buf.readBigUInt64LE(0));
    expect((8 + len) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + len).toString());
    expect(header.w).toEqual({
      dtype: 'F32',
      shape: [2, 3],
      data_offsets: [0, 24],
    });
    expect(buf.length).toBe(8 + len + 24);
  });

  it('builds headers for big generated files of an exact size', () => {
    const spec = bigSafetensorsContent(10_000_000, 'x');
    expect(spec.size).toBe(10_000_000);
    const prefix = Buffer.from(spec.prefix!);
    const len = Number(prefix.readBigUInt64LE(0));
    const header = JSON.parse(prefix.subarray(8, 8 + len).toString());
    expect(header.weight.data_offsets[1] + 8 + len).toBe(10_000_000);
  });
});

describe('MockHub', () => {
  it('computes real git tree and blob oids', () => {
    const hub = new MockHub();
    const sha = hub.addRepo({
      id: 'o/r',
      files: [
        { path: 'a.txt', content: 'hello\n' },
        { path: 'b-c.txt', content: 'y' },
        { path: 'onnx.txt', content: 'z' },
        { path: 'onnx/m.txt', content: 'x' },
      ],
    });
    const commit = hub.getRepo('o/r').commits.get(sha)!;
    expect(treeOid(commit, 'onnx')).toBe(
      'ecd782ae3969e2aaddafa9c5018ae2c6ed7fdb86',
    );
    expect(treeOid(commit, '')).toBe(
      '6c568aa935058b1321e7bb59aebfded3f6687c34',
    );
    expect(hub.fileInfo('o/r', 'a.txt')).toMatchObject({
      oid: 'ce013625030ba8dba906f756967f9e9ca394464a',
      lfs: false,
      size: 6,
    });
  });

  it('uses sha256 and pointer oids for LFS files', () => {
    const hub = new MockHub();
    hub.addRepo({
      id: 'o/r',
      files: [{ path: 'w.bin', content: { size: 1000, seed: 1 } }],
    });
    const info = hub.fileInfo('o/r', 'w.bin')!;
    const bytes = hub.fileContent('o/r', 'w.bin');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(info.lfs).toBe(true);
    expect(info.sha256).toBe(sha256);
    expect(info.etag).toBe(sha256);
    expect(info.oid).toBe(gitBlobSha1(lfsPointer(sha256, 1000)));
  });

  it('serves large generated files from a folder, with the same bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mock-hf-cache-'));
    try {
      const spec = {
        id: 'o/r',
        files: [
          {
            path: 'big.bin',
            content: {
              size: 3_000_000,
              seed: 'big',
              prefix: Buffer.from('HEAD'),
            },
          },
          { path: 'small.bin', content: { size: 1000, seed: 'small' } },
        ],
      };
      const plain = new MockHub();
      plain.addRepo(spec);
      const cached = new MockHub();
      cached.addRepo(spec);
      expect(cached.cacheLargeFiles(dir, 1_000_000)).toBe(1);
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      expect(statSync(join(dir, files[0])).size).toBe(3_000_000);
      expect(cached.fileContent('o/r', 'big.bin')).toEqual(
        plain.fileContent('o/r', 'big.bin'),
      );
      expect(cached.fileInfo('o/r', 'big.bin')!.sha256).toBe(
        plain.fileInfo('o/r', 'big.bin')!.sha256,
      );
      // ranges read from the file
      const source = cached
        .getRepo('o/r')
        .commits.values()
        .next()
        .value!.files.get('big.bin')!.source;
      expect(readAll(source, 1_048_570, 2_100_000)).toEqual(
        plain.fileContent('o/r', 'big.bin').subarray(1_048_570, 2_100_000),
      );
      // a second hub reuses the complete file
      const again = new MockHub();
      again.addRepo(spec);
      const before = statSync(join(dir, files[0])).mtimeMs;
      expect(again.cacheLargeFiles(dir, 1_000_000)).toBe(1);
      expect(statSync(join(dir, files[0])).mtimeMs).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves revisions and tracks drift', () => {
    const hub = new MockHub();
    const first = hub.addRepo({
      id: 'o/r',
      revisions: { main: 'a'.repeat(40) },
      gitTags: ['v1'],
      files: [{ path: 'x.txt', content: '1' }],
    });
    expect(first).toBe('a'.repeat(40));
    const second = hub.commit('o/r', {
      files: [{ path: 'x.txt', content: '2' }],
      delete: [],
      title: 'bump',
    });
    expect(second).toMatch(/^[0-9a-f]{40}$/);
    expect(hub.resolveRevision('o/r', 'main')).toBe(second);
    expect(hub.resolveRevision('o/r', 'HEAD')).toBe(second);
    expect(hub.resolveRevision('o/r', 'v1')).toBe(first);
    expect(hub.resolveRevision('o/r', 'aaaaaaa')).toBe(first);
    expect(hub.resolveRevision('o/r', 'nope')).toBeUndefined();
    expect(hub.fileContent('o/r', 'x.txt', 'v1').toString()).toBe('1');
    expect(hub.fileContent('o/r', 'x.txt').toString()).toBe('2');
    hub.setBranch('o/r', 'refs/pr/1', first);
    expect(hub.resolveRevision('o/r', 'refs/pr/1')).toBe(first);
  });

  it('renders the README front matter from cardData', () => {
    const text = renderModelCard('o/r', {
      license: 'apache-2.0',
      datasets: ['a/b'],
      base_model: 'x/y',
      tags: [],
    });
    expect(text).toBe(
      '---\nlicense: apache-2.0\ndatasets:\n  - a/b\nbase_model: x/y\ntags: []\n---\n\n# r\n\nThis is a mock model repository served by the Model Hub mock Hugging Face server.\n',
    );
  });

  it('scripts faults with counts', () => {
    const hub = new MockHub();
    const handle = hub.script({
      match: { method: 'get', path: '/api/models/*' },
      times: 2,
      fault: { status: 500 },
    });
    expect(hub.takeFault('POST', '/api/models/a/b', '')).toBeUndefined();
    expect(hub.takeFault('GET', '/api/models/a/b', '')).toEqual({
      status: 500,
    });
    expect(hub.takeFault('GET', '/api/models/a/b', '')).toBeDefined();
    expect(hub.takeFault('GET', '/api/models/a/b', '')).toBeUndefined();
    expect(handle.hits).toBe(2);
    expect(handle.remaining).toBe(0);
  });
});

describe('fixtures', () => {
  it('creates the fixture hub', () => {
    const hub = createFixtureHub({ generatedRepos: 25 });
    expect(hub.listRepoIds()).toEqual(
      expect.arrayContaining(Object.values(FIXTURE_REPOS)),
    );
    expect(hub.listRepoIds()).toHaveLength(6 + 25);
    expect(hub.resolveRevision(FIXTURE_REPOS.tinyLlm, 'v1.0')).toBe(
      FIXTURE_SHAS.tinyLlm,
    );
    expect(hub.headSha(FIXTURE_REPOS.tinyLlm)).not.toBe(FIXTURE_SHAS.tinyLlm);
    const readme = hub.fileContent(FIXTURE_REPOS.tinyLlm, 'README.md');
    expect(readme.toString()).toMatch(/^---\nlicense: apache-2.0\n/);
    expect(hub.fileContent(FIXTURE_REPOS.edgeCases, 'empty.txt')).toHaveLength(
      0,
    );
  });

  it('generates many distinct repos quickly', () => {
    const specs = generateRepos(1000);
    expect(new Set(specs.map(s => s.id)).size).toBe(1000);
    const hub = new MockHub().addRepos(specs).warmUp();
    expect(hub.listRepoIds()).toHaveLength(1000);
  });
});

describe('cli args', () => {
  it('parses options, skipping a leading --', () => {
    expect(
      parseCliArgs([
        '--',
        '--port',
        '5555',
        '--repos=10',
        '--big-file-gib',
        '0.5',
        '--cache-dir',
        '/tmp/mock-cache',
      ]),
    ).toMatchObject({
      cacheDir: '/tmp/mock-cache',
      port: 5555,
      repos: 10,
      bigFileGib: 0.5,
      host: '127.0.0.1',
    });
    expect(() => parseCliArgs(['--nope'])).toThrow(/Unknown argument/);
  });
});
