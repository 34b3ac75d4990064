import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import {
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../huggingface/HuggingFaceClient';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { downloadBlob, DownloadFile } from './downloadBlob';
import { PartialDownloadStore } from './PartialDownloadStore';

// Two downloads of the same file at once (two jobs of one repo, two repos
// that share a file, two backend instances on one download folder) used to
// write the same `.partial` file, and one of them failed with ENOENT.

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const REPO_A = 'acme/shared-a';
const REPO_B = 'acme/shared-b';
const WEIGHTS = 'model.safetensors';
const SMALL = 'notes.txt';
const WEIGHTS_BYTES = 12 * 1024 * 1024 + 777;
const smallText = 'the same small regular file in both repos\n'.repeat(2000);

/** Blobs in a local store: files under sha256/<aa>/. */
async function storedBlobs(root: string): Promise<string[]> {
  const base = join(root, 'sha256');
  const names: string[] = [];
  for (const prefix of await fs.readdir(base).catch(() => [] as string[])) {
    names.push(...(await fs.readdir(join(base, prefix))));
  }
  return names.sort();
}

async function fileSha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(path))
    .digest('hex');
}

describe.each(databases.eachSupportedId())(
  'concurrent downloads of one file (%s)',
  databaseId => {
    let hub: MockHub;
    let server: MockHfServer;
    let dir: string;

    beforeAll(async () => {
      hub = new MockHub();
      for (const id of [REPO_A, REPO_B]) {
        hub.addRepo({
          id,
          files: [
            // the same bytes in both repos
            {
              path: WEIGHTS,
              content: { size: WEIGHTS_BYTES, seed: 'shared-weights' },
              lfs: true,
            },
            { path: SMALL, content: smallText, lfs: false },
          ],
        });
      }
      // paced, so that both downloads are in flight at once
      server = await createMockHfServer({
        hub,
        rateLimitBytesPerSec: 24 * 1024 * 1024,
      });
    });

    afterAll(async () => {
      await server.close();
    });

    beforeEach(async () => {
      dir = await fs.mkdtemp(join(tmpdir(), 'concurrent-download-'));
      hub.clearRequests();
    });

    afterEach(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    async function setUp() {
      const knex = await databases.init(databaseId);
      await DatabaseModelHubStore.create({
        database: mockServices.database({ knex, migrations: { skip: false } }),
      });
      const artifacts = await LocalArtifactStore.create({
        path: join(dir, 'store'),
      });
      const client = new HuggingFaceClient({ endpoint: server.url });
      const partials = new PartialDownloadStore(knex);
      const downloadDir = join(dir, 'downloads');
      const fileOf = (repoId: string, path: string): DownloadFile => {
        const stored = hub
          .getRepo(repoId)
          .commits.get(hub.headSha(repoId))!
          .files.get(path)!;
        return {
          path,
          size: stored.size,
          oid: stored.oid,
          ...(stored.lfs && { lfsSha256: stored.sha256 }),
        };
      };
      const optionsFor = (
        repoId: string,
        path: string,
        jobId: string,
        extra: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
      ): Parameters<typeof downloadBlob>[0] => {
        const commit = hub.headSha(repoId);
        return {
          file: fileOf(repoId, path),
          url: client.fileUrl(repoId, commit, path),
          fetchRange: (headers, signal) =>
            client.streamFile(repoId, commit, path, { headers, signal }),
          artifacts,
          partials,
          dir: downloadDir,
          jobId,
          signal: extra.signal ?? new AbortController().signal,
          onBytes: extra.onBytes,
          // the partial file's durable offset moves while both run
          checkpointBytes: 1024 * 1024,
        };
      };
      const gets = (path: string) =>
        hub
          .findRequests({ method: 'GET', path: `/*/resolve/*/${path}` })
          .filter(r => r.status === 200 || r.status === 206);
      const leftovers = async () =>
        (await fs.readdir(downloadDir).catch(() => [] as string[])).sort();
      return {
        knex,
        artifacts,
        partials,
        fileOf,
        optionsFor,
        gets,
        leftovers,
        storeRoot: join(dir, 'store'),
      };
    }

    it.each([
      ['an LFS file', WEIGHTS],
      ['a regular file (git sha1)', SMALL],
    ])(
      'two jobs of one repo download %s at once: both succeed, one fetch, one blob',
      async (_kind, path) => {
        const { fileOf, optionsFor, gets, leftovers, storeRoot, artifacts } =
          await setUp();
        const expected = createHash('sha256')
          .update(hub.fileContent(REPO_A, path))
          .digest('hex');
        const progress: number[][] = [[], []];
        const [one, two] = await Promise.all([
          downloadBlob(
            optionsFor(REPO_A, path, 'job-1', {
              onBytes: n => progress[0].push(n),
            }),
          ),
          downloadBlob(
            optionsFor(REPO_A, path, 'job-2', {
              onBytes: n => progress[1].push(n),
            }),
          ),
        ]);
        expect(one.sha256).toBe(expected);
        expect(two.sha256).toBe(expected);
        expect([one.created, two.created].sort()).toEqual([false, true]);
        expect(await storedBlobs(storeRoot)).toEqual([expected]);
        const info = await artifacts.stat(expected);
        expect(info?.size).toBe(fileOf(REPO_A, path).size);
        expect(
          await fileSha256(
            join(storeRoot, 'sha256', expected.slice(0, 2), expected),
          ),
        ).toBe(expected);
        // one upstream fetch, which both jobs saw progress of
        expect(gets(path)).toHaveLength(1);
        expect(Math.max(...progress[0])).toBe(fileOf(REPO_A, path).size);
        expect(Math.max(...progress[1])).toBe(fileOf(REPO_A, path).size);
        // no partial file, lock file or row left
        expect(await leftovers()).toEqual([]);
      },
    );

    it('two repos that share a file download it at once: both succeed, one fetch, one blob', async () => {
      const { knex, optionsFor, gets, leftovers, storeRoot } = await setUp();
      const expected = hub
        .getRepo(REPO_A)
        .commits.get(hub.headSha(REPO_A))!
        .files.get(WEIGHTS)!.sha256;
      expect(
        hub
          .getRepo(REPO_B)
          .commits.get(hub.headSha(REPO_B))!
          .files.get(WEIGHTS)!.sha256,
      ).toBe(expected);
      const results = await Promise.all([
        downloadBlob(optionsFor(REPO_A, WEIGHTS, 'job-a')),
        downloadBlob(optionsFor(REPO_B, WEIGHTS, 'job-b')),
      ]);
      expect(results.map(r => r.sha256)).toEqual([expected, expected]);
      expect(results.map(r => r.size)).toEqual([WEIGHTS_BYTES, WEIGHTS_BYTES]);
      expect(await storedBlobs(storeRoot)).toEqual([expected]);
      expect(
        await fileSha256(
          join(storeRoot, 'sha256', expected.slice(0, 2), expected),
        ),
      ).toBe(expected);
      expect(gets(WEIGHTS)).toHaveLength(1);
      expect(await leftovers()).toEqual([]);
      expect(await knex('hf_partial_downloads').select()).toEqual([]);

      // and once stored, a later download of the same content commits
      // again (idempotent, content-addressed)
      const again = await downloadBlob(optionsFor(REPO_B, WEIGHTS, 'job-c'));
      expect(again).toMatchObject({ sha256: expected, created: false });
      expect(await storedBlobs(storeRoot)).toEqual([expected]);
    });

    it('two instances on one download folder: the second waits for the lock, both succeed, one blob', async () => {
      const { optionsFor, gets, leftovers, storeRoot } = await setUp();
      // a second copy of the module: its own single flight, as another
      // backend process on the same volume
      let other: typeof downloadBlob | undefined;
      jest.isolateModules(() => {
        other = require('./downloadBlob').downloadBlob;
      });
      expect(other).not.toBe(downloadBlob);
      const expected = hub
        .getRepo(REPO_A)
        .commits.get(hub.headSha(REPO_A))!
        .files.get(WEIGHTS)!.sha256;
      const logs: string[] = [];
      const first = downloadBlob(optionsFor(REPO_A, WEIGHTS, 'job-1'));
      // the first holds the lock before the second asks for it
      for (
        let i = 0;
        i < 200 && !(await leftovers()).some(n => n.endsWith('.lock'));
        i++
      ) {
        await new Promise(r => setTimeout(r, 10));
      }
      const second = other!({
        ...optionsFor(REPO_B, WEIGHTS, 'job-2'),
        log: m => {
          logs.push(m);
        },
      });
      const results = await Promise.all([first, second]);
      expect(results.map(r => r.sha256)).toEqual([expected, expected]);
      expect(logs.some(m => /being written by another process/.test(m))).toBe(
        true,
      );
      expect(await storedBlobs(storeRoot)).toEqual([expected]);
      // the second found the first's blob once the lock was free
      expect(gets(WEIGHTS)).toHaveLength(1);
      expect(await leftovers()).toEqual([]);
    });

    it('a job that is cancelled leaves the shared download running for the other', async () => {
      const { optionsFor, leftovers, storeRoot } = await setUp();
      const expected = hub
        .getRepo(REPO_A)
        .commits.get(hub.headSha(REPO_A))!
        .files.get(WEIGHTS)!.sha256;
      const cancel = new AbortController();
      const cancelled = downloadBlob(
        optionsFor(REPO_A, WEIGHTS, 'job-1', {
          signal: cancel.signal,
          onBytes: n => {
            if (n > 1024 * 1024) {
              cancel.abort(new Error('cancelled by the user'));
            }
          },
        }),
      );
      const kept = downloadBlob(optionsFor(REPO_A, WEIGHTS, 'job-2'));
      await expect(cancelled).rejects.toThrow('cancelled by the user');
      await expect(kept).resolves.toMatchObject({ sha256: expected });
      expect(await storedBlobs(storeRoot)).toEqual([expected]);
      expect(await leftovers()).toEqual([]);
    });

    it('takes over the lock a crashed process left and resumes its partial bytes', async () => {
      const { partials, optionsFor, fileOf, gets, leftovers, storeRoot } =
        await setUp();
      const file = fileOf(REPO_A, WEIGHTS);
      const downloadDir = join(dir, 'downloads');
      await fs.mkdir(downloadDir, { recursive: true });
      // what a process killed half-way leaves: the partial file, its row,
      // and its lock (a pid that is gone)
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const tempPath = join(downloadDir, `sha256-${file.lfsSha256}.partial`);
      const half = 4 * 1024 * 1024;
      await fs.writeFile(
        tempPath,
        hub.fileContent(REPO_A, WEIGHTS).subarray(0, half),
      );
      await partials.put({
        blobKey: `sha256:${file.lfsSha256}`,
        url: 'unused',
        size: file.size,
        durableOffset: half,
        tempPath,
      });
      await fs.writeFile(
        `${tempPath}.lock`,
        JSON.stringify({
          host: hostname(),
          pid: dead,
          token: 'gone',
          since: '',
        }),
      );
      const logs: string[] = [];
      const result = await downloadBlob({
        ...optionsFor(REPO_A, WEIGHTS, 'job-1'),
        log: m => {
          logs.push(m);
        },
      });
      expect(result).toMatchObject({
        sha256: file.lfsSha256,
        resumedFrom: half,
      });
      expect(logs.some(m => /Took over the stale lock/.test(m))).toBe(true);
      expect(gets(WEIGHTS).map(r => r.range)).toEqual([`bytes=${half}-`]);
      expect(await storedBlobs(storeRoot)).toEqual([file.lfsSha256]);
      expect(await leftovers()).toEqual([]);
    });
  },
);
