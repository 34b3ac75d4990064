import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  createMockDirectory,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { collectGarbage, ingestFile } from '../service/ingest';
import { LocalArtifactStore } from './LocalArtifactStore';
import { artifactStoreSuite } from './__testUtils__/artifactStoreSuite';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();

describe('LocalArtifactStore', () => {
  let n = 0;
  artifactStoreSuite(
    async () => {
      n += 1;
      return LocalArtifactStore.create({ path: join(mockDir.path, `s${n}`) });
    },
    { largeSize: 12 * 1024 * 1024 },
  );

  it('lays blobs out by digest and removes stale temporary files', async () => {
    const root = join(mockDir.path, 'layout');
    const store = await LocalArtifactStore.create({ path: root });
    const put = await store.put(Readable.from([Buffer.from('hello')]));
    const stat = await fs.stat(
      join(root, 'sha256', put.sha256.slice(0, 2), put.sha256),
    );
    expect(stat.size).toBe(5);
    expect(await fs.readdir(join(root, 'tmp'))).toEqual([]);

    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    const leftover = async (name: string, hours: number) => {
      await fs.writeFile(join(root, 'tmp', name), 'x');
      await fs.utimes(
        join(root, 'tmp', name),
        hoursAgo(hours),
        hoursAgo(hours),
      );
    };
    await leftover('old.partial', 25);
    await leftover('two-hours.partial', 2);
    await fs.writeFile(join(root, 'tmp', 'new.partial'), 'x');
    // asked for everything older than a minute: the default upload
    // expiration (24 hours) spares the younger ones
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() - 60_000) }),
    ).resolves.toEqual({ removed: 1 });
    expect((await fs.readdir(join(root, 'tmp'))).sort()).toEqual([
      'new.partial',
      'two-hours.partial',
    ]);
    // an older cutoff than the expiration is taken as it is
    await leftover('day-and-a-half.partial', 36);
    await expect(store.cleanup({ olderThan: hoursAgo(48) })).resolves.toEqual({
      removed: 0,
    });
  });

  it('never removes a temporary file younger than 1 hour, nor one younger than the upload expiration', async () => {
    const root = join(mockDir.path, 'expiration');
    const short = await LocalArtifactStore.create({
      path: root,
      uploadExpirationMs: 60_000,
    });
    const long = await LocalArtifactStore.create({
      path: root,
      uploadExpirationMs: 3 * 3_600_000,
    });
    const file = join(root, 'tmp', 'x.partial');
    await fs.writeFile(file, 'x');
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
    await fs.utimes(file, minutesAgo(50), minutesAgo(50));
    // an expiration of one minute: the 1 hour floor spares it
    await expect(
      short.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 0 });
    await fs.utimes(file, minutesAgo(120), minutesAgo(120));
    // an expiration of 3 hours spares it still
    await expect(
      long.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 0 });
    await expect(
      short.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 1 });
  });

  it('spares the temporary file of a slow writer on another instance, removes an abandoned one', async () => {
    const root = join(mockDir.path, 'shared');
    // two instances on one store folder: one writes, the other cleans up
    const writer = await LocalArtifactStore.create({
      path: root,
      uploadExpirationMs: 3_600_000,
      renewIntervalMs: 20,
    });
    const cleaner = await LocalArtifactStore.create({
      path: root,
      uploadExpirationMs: 3_600_000,
    });
    const tmp = join(root, 'tmp');
    const abandoned = join(tmp, 'abandoned.partial');
    await fs.writeFile(abandoned, 'x');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await fs.utimes(abandoned, old, old);

    // a source that stalls after its first 2 MiB until the test lets it go
    let letGo!: () => void;
    const stalled = new Promise<void>(r => {
      letGo = r;
    });
    const first = Buffer.alloc(2 * 1024 * 1024, 1);
    const last = Buffer.from('the end');
    async function* source() {
      yield first;
      await stalled;
      yield last;
    }
    const put = writer.put(Readable.from(source()));
    const waitFor = async (what: () => Promise<boolean>) => {
      for (let i = 0; i < 500 && !(await what()); i++) {
        await new Promise(r => setTimeout(r, 10));
      }
      expect(await what()).toBe(true);
    };
    let live = '';
    await waitFor(async () => {
      const names = await fs.readdir(tmp);
      live = names.find(name => name !== 'abandoned.partial') ?? '';
      const size = live ? (await fs.stat(join(tmp, live))).size : 0;
      return size >= first.length;
    });
    // the writer has stalled for two hours (its last byte written then):
    // its renewal makes it young again
    await fs.utimes(join(tmp, live), old, old);
    await waitFor(
      async () =>
        (await fs.stat(join(tmp, live))).mtimeMs > Date.now() - 60_000,
    );
    await expect(
      cleaner.cleanup({ olderThan: new Date(Date.now() + 1000) }),
    ).resolves.toEqual({ removed: 1 });
    expect(await fs.readdir(tmp)).toEqual([live]);

    letGo();
    const expected = createHash('sha256')
      .update(first)
      .update(last)
      .digest('hex');
    await expect(put).resolves.toMatchObject({
      sha256: expected,
      size: first.length + last.length,
      created: true,
    });
    expect(await fs.readdir(tmp)).toEqual([]);
    await expect(cleaner.stat(expected)).resolves.toMatchObject({
      size: first.length + last.length,
    });
  });
});

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('ingest and GC (%s)', id => {
  let n = 0;
  async function setup() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    n += 1;
    const artifacts = await LocalArtifactStore.create({
      path: join(mockDir.path, `gc-${id}-${n}`),
    });
    const model = await store.createModel({
      namespace: 'default',
      name: 'm',
      type: 'llm',
      lifecycle: 'experimental',
      owner: 'group:default/a',
      sourceType: 'upload',
      tags: [],
      createdBy: 'user:default/a',
    });
    const version = await store.createVersion({
      modelId: model.id,
      label: 'v1',
      sourceType: 'upload',
      createdBy: 'user:default/a',
    });
    return { knex, store, artifacts, version };
  }

  it('inserts rows only for durable blobs and rolls back failed ingests', async () => {
    const { store, artifacts, version, knex } = await setup();
    const ok = await ingestFile({
      store,
      artifacts,
      versionId: version.id,
      path: 'a.bin',
      kind: 'weights',
      content: Readable.from([Buffer.from('aaa')]),
      createdBy: 'user:default/a',
    });
    expect(ok.created).toBe(true);
    await expect(artifacts.stat(ok.file.sha256)).resolves.toBeDefined();

    // checksum mismatch: no blob, no row
    await expect(
      ingestFile({
        store,
        artifacts,
        versionId: version.id,
        path: 'b.bin',
        kind: 'weights',
        content: Readable.from([Buffer.from('bbb')]),
        expectedSha256: 'f'.repeat(64),
        createdBy: 'user:default/a',
      }),
    ).rejects.toMatchObject({ name: 'InputError' });
    // row insert fails (conflict): the new blob is removed again
    await expect(
      ingestFile({
        store,
        artifacts,
        versionId: version.id,
        path: 'a.bin',
        kind: 'weights',
        content: Readable.from([Buffer.from('ccc')]),
        createdBy: 'user:default/a',
      }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
    const digests = [];
    for await (const b of artifacts.list()) digests.push(b.sha256);
    expect(digests).toEqual([ok.file.sha256]);
    expect(await knex('version_files').count({ c: '*' })).toEqual([
      { c: expect.anything() },
    ]);
    expect(Number((await knex('version_files').count({ c: '*' }))[0].c)).toBe(
      1,
    );
  });

  it('collects unreferenced and orphaned blobs after the grace period', async () => {
    const { store, artifacts, version } = await setup();
    const kept = await ingestFile({
      store,
      artifacts,
      versionId: version.id,
      path: 'keep.bin',
      kind: 'weights',
      content: Readable.from([Buffer.from('keep')]),
      createdBy: 'user:default/a',
    });
    const dropped = await ingestFile({
      store,
      artifacts,
      versionId: version.id,
      path: 'drop.bin',
      kind: 'weights',
      content: Readable.from([Buffer.from('drop')]),
      createdBy: 'user:default/a',
    });
    await store.removeFile({ versionId: version.id, path: 'drop.bin' });
    // an orphan: bytes without a row, as left by a crash before the insert
    const orphan = await artifacts.put(Readable.from([Buffer.from('orphan')]));

    // within the grace period nothing goes
    await expect(
      collectGarbage({ store, artifacts, gracePeriodMs: 3_600_000 }),
    ).resolves.toEqual({ unreferenced: 0, orphans: 0, temporary: 0 });

    const later = new Date(Date.now() + 7_200_000);
    await expect(
      collectGarbage({
        store,
        artifacts,
        gracePeriodMs: 3_600_000,
        now: later,
      }),
    ).resolves.toEqual({ unreferenced: 1, orphans: 1, temporary: 0 });
    await expect(artifacts.stat(kept.file.sha256)).resolves.toBeDefined();
    await expect(artifacts.stat(dropped.file.sha256)).resolves.toBeUndefined();
    await expect(artifacts.stat(orphan.sha256)).resolves.toBeUndefined();
    await expect(
      store.getBlob({ sha256: dropped.file.sha256 }),
    ).resolves.toBeUndefined();
    expect((await store.getBlob({ sha256: kept.file.sha256 }))?.refCount).toBe(
      1,
    );
  });
});

describe('crash safety', () => {
  it('leaves no partial blob and no row when killed mid-write', async () => {
    const root = join(mockDir.path, 'crash');
    const storePath = join(root, 'store');
    const dbFile = join(root, 'db.sqlite');
    await fs.mkdir(root, { recursive: true });
    const knex = Knex({
      client: 'better-sqlite3',
      connection: { filename: dbFile },
      useNullAsDefault: true,
    });
    try {
      const store = await DatabaseModelHubStore.create({
        database: mockServices.database({ knex, migrations: { skip: false } }),
      });
      const model = await store.createModel({
        namespace: 'default',
        name: 'crash',
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/a',
        sourceType: 'upload',
        tags: [],
        createdBy: 'user:default/a',
      });
      const version = await store.createVersion({
        modelId: model.id,
        label: 'v1',
        sourceType: 'upload',
        createdBy: 'user:default/a',
      });

      const totalMiB = 64;
      const child = spawn(
        process.execPath,
        [
          '-r',
          require.resolve('@backstage/cli/config/nodeTransform.cjs'),
          join(__dirname, '__fixtures__', 'crashWriter.ts'),
          storePath,
          dbFile,
          version.id,
          String(totalMiB),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', d => {
        stderr += d;
      });
      const exited = new Promise<NodeJS.Signals | null>(r =>
        child.on('exit', (_code, signal) => r(signal)),
      );
      // kill it once 16 MiB went through, well before the end
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', d => {
          out += d;
          if (out.includes('chunk 16\n')) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.on('exit', () =>
          reject(
            new Error(`writer exited early: ${out.slice(-200)} ${stderr}`),
          ),
        );
      });
      expect(await exited).toBe('SIGKILL');

      const expected = createHash('sha256');
      for (let i = 0; i < totalMiB; i++) {
        expected.update(Buffer.alloc(1024 * 1024, 7));
      }
      const digest = expected.digest('hex');

      // a partial temporary file is there, but nothing under the digest
      const artifacts = await LocalArtifactStore.create({ path: storePath });
      const tmp = await fs.readdir(join(storePath, 'tmp'));
      expect(tmp).toHaveLength(1);
      expect(tmp[0]).toMatch(/\.partial$/);
      const listed = [];
      for await (const b of artifacts.list()) listed.push(b);
      expect(listed).toEqual([]);
      await expect(artifacts.stat(digest)).resolves.toBeUndefined();
      expect(await knex('blobs').select()).toEqual([]);
      expect(await knex('version_files').select()).toEqual([]);

      // a clean-up spares the leftover while it may be a live write (younger
      // than the default upload expiration, 24 hours), and removes it once
      // it is older: its writer is dead and renews it no more
      await expect(
        artifacts.cleanup({ olderThan: new Date(Date.now() + 1000) }),
      ).resolves.toEqual({ removed: 0 });
      const dayAgo = new Date(Date.now() - 25 * 3_600_000);
      await fs.utimes(join(storePath, 'tmp', tmp[0]), dayAgo, dayAgo);
      await expect(
        artifacts.cleanup({ olderThan: new Date(Date.now() + 1000) }),
      ).resolves.toEqual({ removed: 1 });
      expect(await fs.readdir(join(storePath, 'tmp'))).toEqual([]);

      // and the same ingest completes afterwards with the expected digest
      const done = await ingestFile({
        store,
        artifacts,
        versionId: version.id,
        path: 'model.safetensors',
        kind: 'weights',
        content: Readable.from(
          Array.from({ length: totalMiB }, () => Buffer.alloc(1024 * 1024, 7)),
        ),
        createdBy: 'user:default/a',
      });
      expect(done.file.sha256).toBe(digest);
    } finally {
      await knex.destroy();
    }
  });
});
