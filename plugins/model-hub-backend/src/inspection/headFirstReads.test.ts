import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { ArtifactStore } from '../store/ArtifactStore';
import { inspectFileInThread } from './inspectInThread';
import { scanPickle } from './pickle';
import { blobSource, bufferSource, ByteSource } from './source';
import { DEFAULT_INSPECTION_LIMITS as LIMITS } from './types';

/** A deterministic pseudo-random byte buffer (tests must be reproducible). */
function noise(size: number, seed = 7): Buffer {
  const out = Buffer.alloc(size);
  let s = seed;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = s >>> 16;
  }
  return out;
}

/** A source that records every read. */
function counted(buffer: Buffer) {
  const inner = bufferSource(buffer);
  const reads: Array<[number, number]> = [];
  const source: ByteSource = {
    size: inner.size,
    read: (start, length) => {
      reads.push([start, length]);
      return inner.read(start, length);
    },
  };
  return {
    source,
    reads,
    bytes: () => reads.reduce((a, [, n]) => a + n, 0),
  };
}

/** PROTO 2, a list of `n` BININT1 items appended in one APPENDS, STOP. */
function listPickle(n: number): Buffer {
  const body = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    body[2 * i] = 0x4b; // K BININT1
    body[2 * i + 1] = i & 0xff;
  }
  return Buffer.concat([
    Buffer.from([0x80, 0x02, 0x5d, 0x28]), // PROTO 2, EMPTY_LIST, MARK
    body,
    Buffer.from([0x65, 0x2e]), // APPENDS, STOP
  ]);
}

const pickleLimits = {
  maxOpcodes: LIMITS.maxPickleOpcodes,
  maxStackItems: LIMITS.maxTensors,
};

/** What the scan of the whole scan limit says (the former single read). */
function fullScan(data: Buffer, maxBytes = LIMITS.maxPickleScanBytes) {
  return scanPickle(data.subarray(0, maxBytes), {
    complete: data.length <= maxBytes,
    limits: pickleLimits,
  });
}

function scanOf(check: { details?: unknown }) {
  return (check.details as { scans: Array<Record<string, unknown>> }).scans[0];
}

describe('raw pickle scan reads from the head', () => {
  it('refuses a large .bin that is not a pickle after its head', async () => {
    const data = noise(24 * 1024 * 1024);
    data[0] = 0x01; // not PROTO: the scan stops at once
    const { source, bytes } = counted(data);
    const [check] = await inspectFileInThread('w/model.bin', source, LIMITS);
    expect(check.status).toBe('fail');
    expect(check.summary).toContain('scan could not complete');
    expect(bytes()).toBeLessThanOrEqual(64 * 1024);
    const full = fullScan(data);
    expect(scanOf(check)).toMatchObject({
      error: full.error,
      bytesScanned: full.bytesScanned,
      opcodes: full.opcodes,
    });
  });

  it('reads on while the stream parses and passes a pickle past the head', async () => {
    const data = listPickle(300_000); // 600 KB
    const { source, bytes } = counted(data);
    const [check] = await inspectFileInThread('w/list.pkl', source, LIMITS);
    expect(check.status).toBe('warn');
    const full = fullScan(data);
    expect(full.error).toBeUndefined();
    expect(scanOf(check)).toMatchObject({
      pickles: 1,
      bytesScanned: data.length,
      opcodes: full.opcodes,
      error: undefined,
    });
    expect(bytes()).toBe(data.length);
  });

  it('fails a pickle that runs past the scan limit, as the full read did', async () => {
    const limits = { ...LIMITS, maxPickleScanBytes: 1024 * 1024 };
    const data = listPickle(1_000_000); // 2 MB, one pickle
    const { source, bytes } = counted(data);
    const [check] = await inspectFileInThread('w/big.pt', source, limits);
    expect(check.status).toBe('fail');
    const full = fullScan(data, limits.maxPickleScanBytes);
    expect(full.error).toContain('past the scan limit of 1048576 bytes');
    expect(scanOf(check)).toMatchObject({
      error: full.error,
      bytesScanned: full.bytesScanned,
    });
    expect(bytes()).toBeLessThanOrEqual(limits.maxPickleScanBytes);
  });

  it('fails a truncated pickle smaller than the limit as truncated', async () => {
    const data = listPickle(200_000).subarray(0, 300_000);
    const [check] = await inspectFileInThread(
      'w/cut.pkl',
      bufferSource(data),
      LIMITS,
    );
    expect(check.status).toBe('fail');
    expect(scanOf(check).error).toEqual(fullScan(data).error);
    expect(String(scanOf(check).error)).toContain('truncated pickle');
  });

  it('scans what follows a pickle that ends at a read boundary', async () => {
    // the first pickle ends exactly at the head: the second one, which
    // imports os.system, is still read and refused
    const first = listPickle((64 * 1024 - 6) / 2);
    expect(first.length).toBe(64 * 1024);
    const evil = Buffer.from('cos\nsystem\n(S"id"\ntR.', 'latin1');
    const data = Buffer.concat([first, evil, noise(200_000)]);
    const [check] = await inspectFileInThread(
      'w/two.pkl',
      bufferSource(data),
      LIMITS,
    );
    expect(check.status).toBe('fail');
    expect(check.summary).toContain('os.system');
    const full = fullScan(data);
    expect(scanOf(check)).toMatchObject({
      pickles: full.pickles,
      bytesScanned: full.bytesScanned,
      error: full.error,
    });
  });
});

describe('blobSource', () => {
  let dir: string;
  let store: LocalArtifactStore;
  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'blob-source-'));
    store = await LocalArtifactStore.create({ path: join(dir, 'store') });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads a local blob with positional reads, not the read stream', async () => {
    const data = noise(3 * 1024 * 1024 + 17, 3);
    const { sha256 } = await store.put(Readable.from([data]));
    const get = jest.spyOn(store, 'get');
    const source = blobSource(store, sha256, data.length);
    for (const [start, length] of [
      [0, 10],
      [5, 1024 * 1024],
      [data.length - 100, 1000],
      [1024 * 1024 - 3, 2 * 1024 * 1024],
    ]) {
      const got = await source.read(start, length);
      expect(got.equals(data.subarray(start, start + length))).toBe(true);
      // a buffer of its own, exactly the bytes read
      expect(got.byteOffset).toBe(0);
      expect(got.buffer.byteLength).toBe(got.length);
    }
    expect((await source.read(data.length, 10)).length).toBe(0);
    expect(get).not.toHaveBeenCalled();
    get.mockRestore();
    await expect(
      blobSource(store, 'a'.repeat(64), 10).read(0, 10),
    ).rejects.toThrow();
  });

  it('reads other stores through ranged streams', async () => {
    const data = noise(2 * 1024 * 1024, 5);
    const other: Pick<ArtifactStore, 'get'> = {
      get: async (_sha, range) =>
        Readable.from(
          (function* chunks() {
            const r = range ?? { start: 0, end: data.length - 1 };
            for (let p = r.start; p <= r.end; p += 65536) {
              yield data.subarray(p, Math.min(r.end + 1, p + 65536));
            }
          })(),
        ),
    };
    const source = blobSource(other as ArtifactStore, 'b'.repeat(64), 2 << 20);
    const got = await source.read(1000, 300_000);
    expect(got.equals(data.subarray(1000, 301_000))).toBe(true);
    const tail = await source.read(data.length - 5, 100);
    expect(tail.equals(data.subarray(data.length - 5))).toBe(true);
  });
});
