import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import {
  bigFileRepo,
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import Knex, { Knex as KnexType } from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../huggingface/HuggingFaceClient';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import {
  downloadBlob,
  DownloadFile,
  DownloadVerificationError,
} from './downloadBlob';
import { createHash } from 'node:crypto';
import { PartialDownloadStore } from './PartialDownloadStore';
import { downloadPieces, pieceStatePath } from './rangedDownload';

jest.setTimeout(60_000);

const MIB = 1024 * 1024;
const SIZE = 12 * MIB + 12345;
const REPO = 'acme/big-model';
const FILE = 'model.safetensors';
const PARALLEL = { connections: 3, minBytes: 8 * MIB, pieceBytes: 4 * MIB };
/** A file of three 16 MiB pieces and a fourth of 4321 bytes. */
const LARGER_REPO = 'acme/larger-model';
const LARGER_SIZE = 48 * MIB + 4321;

describe('parallel ranged downloads', () => {
  let hub: MockHub;
  let server: MockHfServer;
  let client: HuggingFaceClient;
  let file: DownloadFile;
  let dir: string;
  let knex: KnexType;
  let artifacts: LocalArtifactStore;
  let partials: PartialDownloadStore;

  beforeAll(async () => {
    hub = new MockHub();
    hub.addRepo(bigFileRepo(SIZE, REPO));
    hub.addRepo(bigFileRepo(LARGER_SIZE, LARGER_REPO));
    hub.warmUp();
    server = await createMockHfServer({ hub });
    client = new HuggingFaceClient({
      endpoint: server.url,
      retry: { baseDelayMs: 10, maxDelayMs: 100 },
    });
    const f = (await client.listFiles(REPO, 'main')).find(
      x => x.path === FILE,
    )!;
    file = { path: f.path, size: f.size, oid: f.oid, lfsSha256: f.lfs!.sha256 };
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'model-hub-ranged-'));
    knex = Knex({
      client: 'better-sqlite3',
      connection: { filename: join(dir, 'db.sqlite') },
      useNullAsDefault: true,
    });
    await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    artifacts = await LocalArtifactStore.create({ path: join(dir, 'store') });
    partials = new PartialDownloadStore(knex);
    hub.requests.length = 0;
  });

  afterEach(async () => {
    hub.clearScripts();
    await knex.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const download = (
    signal = new AbortController().signal,
    onBytes?: (n: number) => void,
    stripRange = false,
  ) => {
    let received = 0;
    return downloadBlob({
      file,
      url: client.fileUrl(REPO, 'main', FILE),
      fetchRange: async (headers, s) => {
        const h = { ...headers };
        if (stripRange) {
          delete h.Range;
        }
        const res = await client.streamFile(REPO, 'main', FILE, {
          headers: h,
          signal: s,
        });
        const body = res.body!;
        // every byte as it arrives (progress reports are throttled)
        return {
          ...res,
          body: {
            async *[Symbol.asyncIterator]() {
              for await (const chunk of body) {
                received += chunk.length;
                onBytes?.(received);
                yield chunk;
              }
            },
          },
        };
      },
      artifacts,
      partials,
      dir: join(dir, 'downloads'),
      signal,
      checkpointBytes: 2 * MIB,
      writeMode: 'direct',
      parallel: PARALLEL,
    });
  };

  const fileRequests = () =>
    hub.requests.filter(r => r.path.endsWith(`/resolve/main/${FILE}`));

  /** Bytes the ranged requests asked for. */
  const rangeBytes = () =>
    fileRequests().reduce((sum, r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
      return sum + (m ? Number(m[2]) - Number(m[1]) + 1 : SIZE);
    }, 0);

  const storedBytes = (sha256: string) =>
    readFileSync(join(dir, 'store', 'sha256', sha256.slice(0, 2), sha256));

  it('fetches the pieces with ranged requests and stores the verified file', async () => {
    const blob = await download();
    expect(blob.sha256).toBe(file.lfsSha256);
    expect(blob.resumedFrom).toBe(0);
    expect(storedBytes(blob.sha256).equals(hub.fileContent(REPO, FILE))).toBe(
      true,
    );
    // 4 pieces of 4 MiB (the last one short), each once
    const ranges = fileRequests().map(r => r.range);
    expect(ranges).toHaveLength(4);
    expect(ranges).toContain(`bytes=0-${4 * MIB - 1}`);
    expect(ranges).toContain(`bytes=${12 * MIB}-${SIZE - 1}`);
    expect(rangeBytes()).toBe(SIZE);
    // nothing is left of the download
    expect(await fs.readdir(join(dir, 'downloads'))).toEqual([]);
    expect(await partials.get(`sha256:${file.lfsSha256}`)).toBeUndefined();
  });

  it('resumes each piece after the download is stopped half-way', async () => {
    const controller = new AbortController();
    await expect(
      download(controller.signal, bytes => {
        if (bytes >= SIZE / 2) {
          controller.abort(new Error('killed'));
        }
      }),
    ).rejects.toThrow();
    const tempPath = join(dir, 'downloads', `sha256-${file.lfsSha256}.partial`);
    const state = JSON.parse(
      await fs.readFile(pieceStatePath(tempPath), 'utf8'),
    );
    const kept = (state.durable as number[]).reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(SIZE);

    hub.requests.length = 0;
    const blob = await download();
    expect(blob.sha256).toBe(file.lfsSha256);
    expect(blob.resumedFrom).toBe(kept);
    // only the missing bytes were fetched again
    expect(rangeBytes()).toBe(SIZE - kept);
    expect(storedBytes(blob.sha256).equals(hub.fileContent(REPO, FILE))).toBe(
      true,
    );
    expect(existsSync(pieceStatePath(tempPath))).toBe(false);
  });

  it('retries a piece whose connection is cut, from what it wrote', async () => {
    hub.script({
      match: { path: `${REPO}/resolve/main/${FILE}` },
      times: 2,
      fault: { cutAfterBytes: 1 * MIB },
    });
    const blob = await download();
    expect(blob.sha256).toBe(file.lfsSha256);
    // the two cut pieces continued from what they had (about 1 MiB), not
    // from their start (which would ask for 2 * 4 MiB more)
    expect(rangeBytes()).toBeLessThan(SIZE + 2 * 4 * MIB);
    expect(rangeBytes()).toBeGreaterThan(SIZE);
    expect(storedBytes(blob.sha256).equals(hub.fileContent(REPO, FILE))).toBe(
      true,
    );
  });

  it('falls back to one stream when the upstream ignores ranges', async () => {
    const blob = await download(undefined, undefined, true);
    expect(blob.sha256).toBe(file.lfsSha256);
    expect(storedBytes(blob.sha256).equals(hub.fileContent(REPO, FILE))).toBe(
      true,
    );
  });

  it('stores nothing when the bytes do not match the LFS SHA-256', async () => {
    hub.script({
      match: { path: `${REPO}/resolve/main/${FILE}` },
      fault: { wrongBytes: true },
    });
    await expect(download()).rejects.toThrow(DownloadVerificationError);
    expect(await fs.readdir(join(dir, 'downloads'))).toEqual([]);
    const stored = await fs.readdir(join(dir, 'store', 'sha256'), {
      recursive: true,
    });
    expect(stored.filter(f => /[0-9a-f]{64}$/.test(f))).toEqual([]);
    expect(await partials.get(`sha256:${file.lfsSha256}`)).toBeUndefined();
  });

  describe('downloadPieces', () => {
    const largerSha256 = () =>
      createHash('sha256')
        .update(hub.fileContent(LARGER_REPO, FILE))
        .digest('hex');

    /** Fetches ranges of the larger file; `gate` may hold a request back. */
    const fetchLarger =
      (gate?: (range: string) => Promise<void> | undefined) =>
      async (headers: Record<string, string>, signal: AbortSignal) => {
        await gate?.(headers.Range);
        return client.streamFile(LARGER_REPO, 'main', FILE, {
          headers,
          signal,
        });
      };

    it('hashes from memory, and reads back what it had to give up when the memory ran out', async () => {
      const tempPath = join(dir, 'larger.partial');
      let received = 0;
      let release!: () => void;
      const laterPiecesDone = new Promise<void>(resolve => {
        release = resolve;
      });
      const result = await downloadPieces({
        size: LARGER_SIZE,
        sha256: largerSha256(),
        path: FILE,
        tempPath,
        // the first piece waits until the others are in: the hash cannot
        // start, and their 32 MiB do not fit in the 28 MiB pool
        fetchRange: fetchLarger(range =>
          range.startsWith('bytes=0-') ? laterPiecesDone : undefined,
        ),
        connections: 3,
        pieceBytes: 16 * MIB,
        memoryBytes: 1, // the least: two buffers per connection and one
        writeMode: 'direct',
        signal: new AbortController().signal,
        onBytes: bytes => {
          received = bytes;
          if (received >= 2 * 16 * MIB + 4321) {
            release();
          }
        },
      });
      expect(result.sha256).toBe(largerSha256());
      expect(result.stats.peakBuffers).toBeLessThanOrEqual(7);
      expect(result.stats.hashedFromDisk).toBeGreaterThan(0);
      expect(result.stats.hashedFromMemory).toBeGreaterThan(16 * MIB);
      expect(result.stats.hashedFromMemory + result.stats.hashedFromDisk).toBe(
        LARGER_SIZE,
      );
      expect(
        readFileSync(tempPath).equals(hub.fileContent(LARGER_REPO, FILE)),
      ).toBe(true);
    });

    it('hashes everything from memory when the pieces arrive in order', async () => {
      const tempPath = join(dir, 'larger.partial');
      const result = await downloadPieces({
        size: LARGER_SIZE,
        sha256: largerSha256(),
        path: FILE,
        tempPath,
        fetchRange: fetchLarger(),
        connections: 3,
        pieceBytes: 16 * MIB,
        signal: new AbortController().signal,
      });
      expect(result.sha256).toBe(largerSha256());
      expect(result.stats.hashedFromMemory).toBe(LARGER_SIZE);
      expect(result.stats.hashedFromDisk).toBe(0);
    });

    it('writes through the page cache when told to (checkpoints every 4 MiB)', async () => {
      const tempPath = join(dir, 'larger.partial');
      const result = await downloadPieces({
        size: LARGER_SIZE,
        sha256: largerSha256(),
        path: FILE,
        tempPath,
        fetchRange: fetchLarger(),
        connections: 3,
        pieceBytes: 16 * MIB,
        writeMode: 'buffered',
        checkpointBytes: 4 * MIB,
        signal: new AbortController().signal,
      });
      expect(result.stats.directIo).toBe(false);
      expect(result.sha256).toBe(largerSha256());
      expect(
        readFileSync(tempPath).equals(hub.fileContent(LARGER_REPO, FILE)),
      ).toBe(true);
      // the last checkpoint's state: every piece complete
      const state = JSON.parse(
        await fs.readFile(pieceStatePath(tempPath), 'utf8'),
      );
      expect(state.durable).toEqual([16 * MIB, 16 * MIB, 16 * MIB, 4321]);
    });
  });
});
