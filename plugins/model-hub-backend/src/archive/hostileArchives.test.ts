import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import {
  createMockDirectory,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { makeSafetensors } from '../inspection/__testUtils__/generators';
import { createHarness, Harness } from '../uploads/__testUtils__/harness';
import { RawEntry, writeZip } from './__testUtils__/zipWriter';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const WEIGHTS = makeSafetensors([
  { name: 'embed.weight', dtype: 'F32', shape: [16, 8] },
  { name: 'lm_head.weight', dtype: 'BF16', shape: [8, 16] },
]);
const CONFIG = Buffer.from(
  JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'] }),
);

/** A valid package, with hooks to make it hostile. */
function pkg(
  options: {
    extra?: RawEntry[];
    files?: Record<string, Buffer>;
    manifest?: (m: any) => void;
    entries?: (e: RawEntry[]) => RawEntry[];
    comment?: Buffer;
  } = {},
): Buffer {
  const files = options.files ?? {
    'config.json': CONFIG,
    'model.safetensors': WEIGHTS,
  };
  const manifest: any = {
    name: 'llama',
    version: 'v2',
    files: Object.entries(files).map(([path, data]) => ({
      path,
      sha256: sha(data),
      size: data.length,
    })),
    metadata: { framework: 'pytorch' },
  };
  options.manifest?.(manifest);
  let entries: RawEntry[] = [
    {
      name: 'model-manifest.json',
      data: Buffer.from(JSON.stringify(manifest)),
    },
    ...Object.entries(files).map(([name, data]) => ({ name, data })),
    ...(options.extra ?? []),
  ];
  entries = options.entries?.(entries) ?? entries;
  return writeZip(entries, { comment: options.comment });
}

const MIB = 1024 * 1024;
const zeros = (n: number) => Buffer.alloc(n);

/** The hostile corpus: what to send and the 400 message it must get. */
const CORPUS: [string, () => Buffer, RegExp][] = [
  [
    'traversal ../',
    () => pkg({ extra: [{ name: '../evil.txt', data: zeros(1) }] }),
    /invalid relative path|\.\. segments/,
  ],
  [
    'traversal a/../../',
    () => pkg({ extra: [{ name: 'a/../../evil.txt', data: zeros(1) }] }),
    /invalid relative path|\.\. segments/,
  ],
  [
    'traversal in the middle',
    () =>
      pkg({
        extra: [{ name: 'weights/../../../etc/cron.d/x', data: zeros(1) }],
      }),
    /invalid relative path/,
  ],
  [
    'absolute path',
    () => pkg({ extra: [{ name: '/etc/passwd', data: zeros(1) }] }),
    /absolute path/,
  ],
  [
    'drive letter',
    () => pkg({ extra: [{ name: 'C:/Windows/evil.dll', data: zeros(1) }] }),
    /absolute path/,
  ],
  [
    'drive letter with backslash',
    () => pkg({ extra: [{ name: 'C:\\evil.dll', data: zeros(1) }] }),
    /absolute path|invalid characters/,
  ],
  [
    'backslash traversal',
    () => pkg({ extra: [{ name: '..\\..\\evil.txt', data: zeros(1) }] }),
    /invalid characters/,
  ],
  [
    'backslash in a name',
    () => pkg({ extra: [{ name: 'weights\\model.bin', data: zeros(1) }] }),
    /invalid characters/,
  ],
  [
    'dot segment',
    () => pkg({ extra: [{ name: './config2.json', data: zeros(1) }] }),
    /empty, \. or \.\. segments/,
  ],
  [
    'empty segment',
    () => pkg({ extra: [{ name: 'a//b.txt', data: zeros(1) }] }),
    /empty, \. or \.\. segments/,
  ],
  [
    'NUL in a name',
    () => pkg({ extra: [{ name: 'model.bin\u0000.txt', data: zeros(1) }] }),
    /control characters/,
  ],
  [
    'newline in a name',
    () => pkg({ extra: [{ name: 'a\nb.txt', data: zeros(1) }] }),
    /control characters/,
  ],
  [
    'overlong name',
    () =>
      pkg({ extra: [{ name: `${'a'.repeat(300)}/x.txt`, data: zeros(1) }] }),
    /longer than 255 bytes/,
  ],
  [
    'symlink to /etc/passwd',
    () =>
      pkg({
        extra: [
          {
            name: 'link',
            data: Buffer.from('/etc/passwd'),
            unixMode: 0o120777,
          },
        ],
      }),
    /symbolic link/,
  ],
  [
    'relative symlink chain',
    () =>
      pkg({
        extra: [
          { name: 'a/link', data: Buffer.from('../../..'), unixMode: 0o120777 },
        ],
      }),
    /symbolic link/,
  ],
  [
    'dangling symlink',
    () =>
      pkg({
        extra: [
          {
            name: 'dangling',
            data: Buffer.from('nowhere'),
            unixMode: 0o120644,
          },
        ],
      }),
    /symbolic link/,
  ],
  [
    'hard link / device node',
    () => pkg({ extra: [{ name: 'dev', data: zeros(0), unixMode: 0o020644 }] }),
    /character device/,
  ],
  [
    'FIFO',
    () =>
      pkg({ extra: [{ name: 'fifo', data: zeros(0), unixMode: 0o010644 }] }),
    /FIFO/,
  ],
  [
    'Windows reparse point',
    () =>
      pkg({
        extra: [{ name: 'junction', data: zeros(1), dosAttributes: 0x400 }],
      }),
    /reparse point/,
  ],
  [
    'duplicate names',
    () => pkg({ extra: [{ name: 'config.json', data: CONFIG }] }),
    /duplicate entry/,
  ],
  [
    'case-folded duplicates',
    () => pkg({ extra: [{ name: 'CONFIG.json', data: CONFIG }] }),
    /duplicate entry/,
  ],
  [
    'Unicode NFD/NFC duplicates',
    () =>
      pkg({
        files: {
          'config.json': CONFIG,
          'model.safetensors': WEIGHTS,
          'caf\u00e9.txt': zeros(1),
        },
        extra: [{ name: 'cafe\u0301.txt', data: zeros(1) }],
      }),
    /duplicate entry/,
  ],
  [
    'file and folder with one name',
    () =>
      pkg({ extra: [{ name: 'model.safetensors/inner.txt', data: zeros(1) }] }),
    /both a file and a folder/,
  ],
  [
    'deflate bomb (ratio)',
    () => pkg({ extra: [{ name: 'bomb.txt', data: zeros(24 * MIB) }] }),
    /compression ratio of \d+:1/,
  ],
  [
    'total size bomb (declared)',
    () =>
      pkg({
        extra: [0, 1, 2].map(i => ({
          name: `part${i}.bin`,
          method: 8,
          compressed: Buffer.alloc(200 * 1024, 7),
          uncompressedSize: 17 * MIB,
        })),
      }),
    /in total/,
  ],
  [
    'entry larger than allowed',
    () =>
      pkg({
        extra: [
          {
            name: 'huge.bin',
            method: 8,
            compressed: Buffer.alloc(MIB, 7),
            uncompressedSize: 40 * MIB,
          },
        ],
      }),
    /more than the limit of/,
  ],
  [
    'lying uncompressed size (actual bytes)',
    () =>
      pkg({
        extra: [
          {
            name: 'liar.txt',
            method: 8,
            compressed: deflateRawSync(zeros(5 * MIB)),
            uncompressedSize: 100,
          },
        ],
      }),
    /too many bytes|more bytes than allowed/,
  ],
  [
    'overlapping entries (Fifield)',
    () =>
      pkg({
        entries: e => {
          // the first entry's data runs over the next entry's local header
          const compressed = deflateRawSync(e[0].data!);
          return [
            {
              ...e[0],
              compressed,
              centralCompressedSize: compressed.length + 40,
            },
            ...e.slice(1),
          ];
        },
      }),
    /overlap/,
  ],
  [
    'two entries sharing one local header',
    () =>
      pkg({ extra: [{ name: 'shadow.json', data: CONFIG, localHeaderOf: 1 }] }),
    /overlap/,
  ],
  [
    'local header name differs',
    () =>
      pkg({
        extra: [{ name: 'notes.txt', localName: '../evil', data: zeros(1) }],
      }),
    /local header names/,
  ],
  [
    'huge entry count',
    () =>
      pkg({
        extra: Array.from({ length: 200 }, (_, i) => ({
          name: `f/${i}.txt`,
          data: zeros(1),
        })),
      }),
    /entries, more than the limit/,
  ],
  [
    'oversized archive comment',
    () => pkg({ comment: Buffer.alloc(5000, 0x41) }),
    /archive comment/,
  ],
  [
    'oversized entry comment',
    () =>
      pkg({
        extra: [
          { name: 'c.txt', data: zeros(1), comment: Buffer.alloc(5000, 0x41) },
        ],
      }),
    /comment of 5000 bytes/,
  ],
  [
    'oversized extra field',
    () =>
      pkg({
        extra: [
          {
            name: 'x.txt',
            data: zeros(1),
            extra: Buffer.concat([
              Buffer.from([0xfe, 0xca, 0x80, 0x13]),
              Buffer.alloc(0x1380),
            ]),
          },
        ],
      }),
    /extra field/,
  ],
  [
    'encrypted entry',
    () => pkg({ extra: [{ name: 'secret.bin', data: zeros(10), flags: 1 }] }),
    /encrypted/,
  ],
  [
    'unknown compression method',
    () => pkg({ extra: [{ name: 'x.bz2data', data: zeros(10), method: 12 }] }),
    /compression method 12/,
  ],
  [
    'nested zip',
    () =>
      pkg({
        extra: [
          {
            name: 'inner.zip',
            data: writeZip([{ name: 'a', data: zeros(1) }]),
          },
        ],
      }),
    /nested archive/,
  ],
  [
    'nested zip bomb (42.zip style)',
    () =>
      pkg({
        extra: [
          {
            name: 'layer1.zip',
            data: writeZip(
              Array.from({ length: 16 }, (_, i) => ({
                name: `layer2-${i}.zip`,
                data: writeZip([{ name: 'bomb', data: zeros(2 * MIB) }]),
              })),
            ),
          },
        ],
      }),
    /nested archive/,
  ],
  [
    'nested tarball',
    () => pkg({ extra: [{ name: 'weights.tar.gz', data: zeros(100) }] }),
    /nested archive/,
  ],
  ['no manifest', () => pkg({ entries: e => e.slice(1) }), /no manifest/],
  [
    'manifest is not JSON',
    () =>
      pkg({
        entries: e => [
          { name: 'model-manifest.json', data: Buffer.from('{nope') },
          ...e.slice(1),
        ],
      }),
    /not valid JSON/,
  ],
  [
    'manifest with a bad hash',
    () =>
      pkg({
        manifest: m => {
          m.files[1].sha256 = 'a'.repeat(64);
        },
      }),
    /does not match the manifest/,
  ],
  [
    'manifest with a wrong size',
    () =>
      pkg({
        manifest: m => {
          m.files[0].size += 1;
        },
      }),
    /the manifest says/,
  ],
  [
    'manifest lists a missing file',
    () =>
      pkg({
        manifest: m => {
          m.files.push({ path: 'tokenizer.json', sha256: 'b'.repeat(64) });
        },
      }),
    /not in the archive/,
  ],
  [
    'file not in the manifest',
    () =>
      pkg({ extra: [{ name: 'smuggled.py', data: Buffer.from('import os') }] }),
    /not listed in the manifest/,
  ],
  [
    'manifest for another model',
    () =>
      pkg({
        manifest: m => {
          m.name = 'other';
        },
      }),
    /for model other/,
  ],
  [
    'required file missing',
    () => pkg({ files: { 'model.safetensors': WEIGHTS } }),
    /must contain config.json/,
  ],
  [
    'deployment manifest with a bad hash',
    () =>
      writeZip([
        {
          name: 'metadata.json',
          data: Buffer.from(JSON.stringify({ name: 'llama', version: 'v2' })),
        },
        {
          name: 'deployment_manifest.json',
          data: Buffer.from(
            JSON.stringify({
              file_hashes: {
                'config.json': sha(CONFIG),
                'model.safetensors': `sha256:${'c'.repeat(64)}`,
              },
            }),
          ),
        },
        { name: 'config.json', data: CONFIG },
        { name: 'model.safetensors', data: WEIGHTS },
      ]),
    /model.safetensors: sha256 .* does not match/,
  ],
  [
    'not a zip at all',
    () => Buffer.from('this is not a zip file, just text'.repeat(10)),
    /Invalid archive/,
  ],
  ['truncated zip', () => pkg().subarray(0, 300), /Invalid archive/],
];

describe.each(databases.eachSupportedId())('ZIP packages (%s)', id => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness({
      knex: await databases.init(id),
      root: mockDir.resolve(`archives-${id}`),
    });
    await h.seed();
  });

  it('has a corpus of at least 30 hostile archives', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CORPUS)(
    'rejects %s with a 4xx and leaves nothing behind',
    async (_name, build, message) => {
      const before = await h.counts();
      const res = await request(h.app)
        .post('/api/model-hub/models/default/llama/packages')
        .set('Content-Type', 'application/zip')
        .send(build());
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.error.message).toMatch(message);
      expect(await h.counts()).toEqual(before);
    },
  );

  it('rejects a package larger than the limit', async () => {
    const before = await h.counts();
    h.config.archive.maxArchiveBytes = 100;
    try {
      const res = await request(h.app)
        .post('/api/model-hub/models/default/llama/packages')
        .set('Content-Type', 'application/zip')
        .send(pkg())
        .expect(400);
      expect(res.body.error.message).toMatch(
        /larger than the limit of 100 bytes/,
      );
    } finally {
      h.config.archive.maxArchiveBytes = 64 * MIB;
    }
    expect(await h.counts()).toEqual(before);
  });

  it('checks permissions before reading the package', async () => {
    h.setDeny(p => p === 'model-hub.version.create');
    try {
      const res = await request(h.app)
        .post('/api/model-hub/models/default/llama/packages')
        .set('Content-Type', 'application/zip')
        .send(pkg());
      expect([res.status, res.body.error?.message]).toEqual([
        403,
        'Not allowed: model-hub.version.create on model:default/llama',
      ]);
    } finally {
      h.setDeny(() => false);
    }
  });

  it('imports a valid package as a new draft version with files and checks', async () => {
    const res = await request(h.app)
      .post('/api/model-hub/models/default/llama/packages')
      .set('Content-Type', 'application/zip')
      .send(pkg({ extra: [{ name: 'weights/', data: zeros(0) }] }))
      .expect(201);
    expect(res.body.version).toMatchObject({ label: 'v2', state: 'draft' });
    expect(res.body.files.map((f: any) => f.path)).toEqual([
      'config.json',
      'model-manifest.json',
      'model.safetensors',
    ]);
    const version = await request(h.app)
      .get('/api/model-hub/models/default/llama/versions/v2')
      .expect(200);
    expect(version.body).toMatchObject({
      fileCount: 3,
      manifestDigest: `sha256:${res.body.manifest.sha256}`,
    });
    const download = await request(h.app)
      .get(
        '/api/model-hub/models/default/llama/versions/v2/files/model.safetensors',
      )
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(sha(download.body)).toBe(sha(WEIGHTS));
    const checks = await h
      .knex('version_checks')
      .join('model_versions', 'model_versions.id', 'version_checks.version_id')
      .where('model_versions.label', 'v2')
      .select(
        'version_checks.name',
        'version_checks.status',
        'version_checks.details',
      );
    const byName = Object.fromEntries(checks.map((c: any) => [c.name, c]));
    expect(byName['inspect:format:safetensors:model.safetensors'].status).toBe(
      'passed',
    );
    expect(
      JSON.parse(
        byName['inspect:format:safetensors:model.safetensors'].details,
      ),
    ).toMatchObject({
      parameterCount: 256,
      level: 'pass',
    });
    expect(byName['model-hub.format'].status).toBe('passed');
    expect(byName['inspect:format:config:config.json'].status).toBe('passed');

    // the same label again is a conflict, and leaves nothing behind
    const before = await h.counts();
    await request(h.app)
      .post('/api/model-hub/models/default/llama/packages')
      .set('Content-Type', 'application/zip')
      .send(pkg())
      .expect(409);
    expect(await h.counts()).toEqual(before);
  });

  it('imports the metadata.json + deployment_manifest.json layout and flags pickles', async () => {
    const pickle = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cposix\nsystem\n', 'latin1'),
      Buffer.from([0x29, 0x52, 0x2e]),
    ]);
    const res = await request(h.app)
      .post('/api/model-hub/models/default/llama/packages?label=v3')
      .set('Content-Type', 'application/zip')
      .send(
        writeZip([
          {
            name: 'metadata.json',
            data: Buffer.from(
              JSON.stringify({ name: 'llama', framework: 'pytorch' }),
            ),
          },
          {
            name: 'deployment_manifest.json',
            data: Buffer.from(
              JSON.stringify({
                file_hashes: {
                  'config.json': sha(CONFIG),
                  'model.safetensors': `sha256:${sha(WEIGHTS)}`,
                  'pytorch_model.bin': sha(pickle),
                },
              }),
            ),
          },
          { name: 'config.json', data: CONFIG },
          { name: 'model.safetensors', data: WEIGHTS },
          { name: 'pytorch_model.bin', data: pickle },
        ]),
      )
      .expect(201);
    expect(res.body.version.label).toBe('v3');
    expect(res.body.checks).toContainEqual(
      expect.objectContaining({
        name: 'safety:pickle:pytorch_model.bin',
        status: 'fail',
        details: expect.objectContaining({
          unsafeFormat: true,
          dangerousImports: ['posix.system'],
        }),
      }),
    );
    // every inspected version has one (passed when it has no pickles)
    const safety = await h
      .knex('version_checks')
      .where({ name: 'model-hub.safety' })
      .whereIn(
        'version_id',
        h.knex('model_versions').where({ label: 'v3' }).select('id'),
      )
      .first();
    expect(safety.status).toBe('failed');
  });
});
