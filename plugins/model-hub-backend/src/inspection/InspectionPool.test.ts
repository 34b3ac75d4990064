import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { inspectFile } from './inspectFile';
import { InspectionPool, setInspectionWorkerEntry } from './InspectionPool';
import { inspectionWorkerPath } from './inspectionWorker';
import { bufferSource, ByteSource } from './source';
import { DEFAULT_INSPECTION_LIMITS, InspectionLimits } from './types';
import { makeGguf, makeSafetensors } from './__testUtils__/generators';

// Issue 14, point 5: inspection of user files is bounded and runs off the
// event loop. Hostile headers finish fast with a failed check; a parser
// that runs long is stopped at its CPU-time limit; the event loop of the
// calling thread never stalls meanwhile.

jest.setTimeout(60_000);

const LIMITS = DEFAULT_INSPECTION_LIMITS;

/**
 * `size` bytes of one pickle whose BINBYTES argument runs to the end (past
 * the scan limit when larger): a raw pickle scan reads on to the limit.
 */
function longPickle(size: number): Buffer {
  const out = randomBytes(size);
  Buffer.from([0x80, 0x02, 0x42]).copy(out, 0); // PROTO 2, BINBYTES
  out.writeUInt32LE(size - 7, 3);
  return out;
}

function safetensorsHeader(header: object, dataBytes = 0): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

/** The file of the issue: one tensor of 100,000 dimensions (1.8 MB). */
function hugeShape(): Buffer {
  const shape = Array.from({ length: 100_000 }, (_, i) => 1_000_000 + i);
  return safetensorsHeader({
    w: { dtype: 'F32', shape, data_offsets: [0, 4] },
  });
}

function u32(n: number) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: bigint) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

/** Runs `fn` while sampling the event loop; returns its result and the worst delay. */
async function measured<T>(fn: () => Promise<T>) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const started = Date.now();
  try {
    const result = await fn();
    return {
      result,
      maxDelayMs: histogram.max / 1e6,
      elapsedMs: Date.now() - started,
    };
  } finally {
    histogram.disable();
  }
}

describe('bounded inspection', () => {
  const hostile: [string, string, () => Buffer, RegExp][] = [
    [
      'a safetensors shape of 100,000 dimensions',
      'model.safetensors',
      hugeShape,
      /100000 dimensions \(limit 64\)/,
    ],
    [
      'a safetensors header length of 2^40 bytes',
      'long.safetensors',
      () => Buffer.concat([u64(2n ** 40n), Buffer.from('{}')]),
      /header of 1099511627776 bytes is larger than the limit/,
    ],
    [
      'safetensors __metadata__ of too many entries',
      'meta.safetensors',
      () =>
        safetensorsHeader({
          __metadata__: Object.fromEntries(
            Array.from({ length: 100_001 }, (_, i) => [`k${i}`, '']),
          ),
        }),
      /__metadata__ has 100001 entries \(limit 100000\)/,
    ],
    [
      'a GGUF header that declares 2^63 key/values',
      'kv.gguf',
      () =>
        Buffer.concat([
          Buffer.from('GGUF'),
          u32(3),
          u64(0n),
          u64(2n ** 63n),
          Buffer.alloc(64),
        ]),
      /metadata entries \(limit 100000\)/,
    ],
    [
      'a GGUF header that declares 2^40 tensors',
      'tensors.gguf',
      () =>
        Buffer.concat([
          Buffer.from('GGUF'),
          u32(3),
          u64(2n ** 40n),
          u64(0n),
          Buffer.alloc(64),
        ]),
      /more than 1000000 tensors/,
    ],
    [
      'a GGUF string of 2^60 bytes',
      'string.gguf',
      () =>
        Buffer.concat([
          Buffer.from('GGUF'),
          u32(3),
          u64(0n),
          u64(1n),
          u64(2n ** 60n),
          Buffer.alloc(64),
        ]),
      /string of \d+ bytes \(limit/,
    ],
    [
      'a GGUF tensor of 1,000 dimensions',
      'dims.gguf',
      () =>
        makeGguf({
          kv: { 'general.architecture': 'x' },
          tensors: [{ name: 't', dims: Array(1000).fill(2) }],
        }),
      /1000 dimensions/,
    ],
    [
      'an ONNX file of 200,000 top-level fields',
      'fields.onnx',
      () => Buffer.alloc(400_000, Buffer.from([0x28, 0x01])), // field 5, varint 1
      /too many top-level fields/,
    ],
    [
      'a pickle of 2,000,000 nested marks',
      'marks.pkl',
      () => Buffer.alloc(2_000_000, 0x28),
      /more than 1000000 marks/,
    ],
  ];

  const limits = { ...LIMITS, maxMetadataEntries: 100_000 };
  const warmUp = (inspect: typeof inspectFile) =>
    inspect(
      'warm.safetensors',
      bufferSource(makeSafetensors([{ name: 'w', dtype: 'F32', shape: [1] }])),
      limits,
    );

  // the workers start once, before the measurements
  beforeAll(() => warmUp(inspectFile));

  it.each(hostile)(
    'fails %s fast, without blocking the event loop',
    async (_name, path, make, reason) => {
      const data = make();
      const { result, maxDelayMs, elapsedMs } = await measured(() =>
        inspectFile(path, bufferSource(data), limits),
      );
      expect(result).toHaveLength(1);
      expect(result[0].status).toBe('fail');
      expect(result[0].summary).toMatch(reason);
      expect(elapsedMs).toBeLessThan(15_000);
      expect(maxDelayMs).toBeLessThan(200);
    },
  );

  it('stops a parser at its CPU-time limit and fails the file with the reason', async () => {
    // without the dimension cap, the 100,000-dim shape is the measured
    // 155 s of big-integer products; the worker is stopped after 500 ms
    const uncapped: InspectionLimits = {
      ...LIMITS,
      maxDimensions: 1_000_000,
      cpuTimeLimitMs: 500,
    };
    const pool = new InspectionPool(1);
    try {
      await warmUp((p, src, l) => pool.inspect(p, src, l));
      const { result, maxDelayMs, elapsedMs } = await measured(() =>
        pool.inspect('model.safetensors', bufferSource(hugeShape()), uncapped),
      );
      expect(result).toEqual([
        expect.objectContaining({
          name: 'format:safetensors:model.safetensors',
          status: 'fail',
          summary: expect.stringMatching(/CPU time limit of 500 ms/),
        }),
      ]);
      expect(elapsedMs).toBeLessThan(10_000);
      expect(maxDelayMs).toBeLessThan(200);
      expect(pool.workerCount).toBe(0); // terminated

      // the next file gets a fresh worker
      const [ok] = await pool.inspect(
        'ok.safetensors',
        bufferSource(
          makeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3] }]),
        ),
        limits,
      );
      expect(ok).toMatchObject({
        status: 'pass',
        details: { parameterCount: 6 },
      });
    } finally {
      await pool.close();
    }
  });

  it('fails a file whose reads take longer than the time limit', async () => {
    const pool = new InspectionPool(1);
    const stalled: ByteSource = {
      size: 1024,
      read: () => new Promise<Buffer>(() => {}),
    };
    try {
      const [check] = await pool.inspect('weights.pt', stalled, {
        ...LIMITS,
        wallTimeLimitMs: 300,
      });
      expect(check).toMatchObject({
        name: 'safety:pickle:weights.pt',
        status: 'fail',
        summary: expect.stringMatching(/time limit of 300 ms/),
      });
    } finally {
      await pool.close();
    }
  });

  it('fails a file whose inspection runs out of worker memory', async () => {
    const pool = new InspectionPool(1);
    // 13 MB of JSON objects parse into more than a 64 MiB heap
    const entries = 200_000;
    const big = safetensorsHeader(
      Object.fromEntries(
        Array.from({ length: entries }, (_, i) => [
          `w${i}`,
          { dtype: 'U8', shape: [1], data_offsets: [i, i + 1] },
        ]),
      ),
      entries,
    );
    try {
      const [check] = await pool.inspect('big.safetensors', bufferSource(big), {
        ...LIMITS,
        workerMemoryMiB: 64,
      });
      expect(check).toMatchObject({
        name: 'format:safetensors:big.safetensors',
        status: 'fail',
        summary: expect.stringMatching(/out of memory \(limit 64 MiB\)/),
      });
    } finally {
      await pool.close();
    }
  });

  it('fails a file whose reads fail, and inspects several files at once', async () => {
    const pool = new InspectionPool(2);
    try {
      const failing: ByteSource = {
        size: 100,
        read: async () => {
          throw new Error('the store is unreachable');
        },
      };
      const files = Array.from({ length: 6 }, (_, i) =>
        makeSafetensors([{ name: 'w', dtype: 'F32', shape: [i + 1] }]),
      );
      const [bad, ...good] = await Promise.all([
        pool.inspect('x.safetensors', failing, LIMITS),
        ...files.map((f, i) =>
          pool.inspect(`m${i}.safetensors`, bufferSource(f), LIMITS),
        ),
      ]);
      expect(bad[0]).toMatchObject({
        status: 'fail',
        summary: expect.stringMatching(/the store is unreachable/),
      });
      expect(good.map(g => g[0].details.parameterCount)).toEqual([
        1, 2, 3, 4, 5, 6,
      ]);
      expect(pool.workerCount).toBeLessThanOrEqual(2);
    } finally {
      await pool.close();
    }
  });

  it('ends idle workers, and starts a fresh one for the next file', async () => {
    const pool = new InspectionPool(1, 200);
    try {
      const file = makeSafetensors([{ name: 'w', dtype: 'F32', shape: [3] }]);
      await pool.inspect('a.safetensors', bufferSource(file), LIMITS);
      expect(pool.workerCount).toBe(1);
      await new Promise(resolve => setTimeout(resolve, 600));
      expect(pool.workerCount).toBe(0);
      const [check] = await pool.inspect(
        'b.safetensors',
        bufferSource(file),
        LIMITS,
      );
      expect(check.details.parameterCount).toBe(3);
      expect(pool.workerCount).toBe(1);
    } finally {
      await pool.close();
    }
  });
  it('serves a large read in 1 MiB pieces, and a small one without a copy', async () => {
    const pool = new InspectionPool(1);
    try {
      // a raw pickle scan reads up to the first 16 MiB of a .bin file
      // while it parses: here one BINBYTES running past the scan limit
      const content = longPickle(20 * 1024 * 1024);
      const asked: number[] = [];
      const given: Buffer[] = [];
      const owning: ByteSource = {
        size: content.length,
        read: async (start, length) => {
          asked.push(length);
          const own = Buffer.from(content.subarray(start, start + length));
          given.push(own);
          return own;
        },
      };
      const [own] = await pool.inspect('weights.bin', owning, LIMITS);
      // inspected: a pickle past the scan limit is refused
      expect(own).toMatchObject({ status: 'fail' });
      // no read of the source is larger than 1 MiB
      expect(Math.max(...asked)).toBeLessThanOrEqual(1024 * 1024);
      expect(asked.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(
        LIMITS.maxPickleScanBytes,
      );
      // the 64 KiB head owned its memory: moved to the worker, not copied
      expect(given.some(b => b.byteLength === 0)).toBe(true);
      // views of a larger buffer are copied: the backing stays usable,
      // and the result is the same
      const views: ByteSource = {
        size: content.length,
        read: async (start, length) => content.subarray(start, start + length),
      };
      const [viaViews] = await pool.inspect('weights.bin', views, LIMITS);
      expect(viaViews).toEqual(own);
      expect(content.byteLength).toBe(20 * 1024 * 1024);
      // a source that ends early gives the worker a short read
      const short: ByteSource = {
        size: content.length,
        read: async (start, length) =>
          start >= 3 * 1024 * 1024
            ? Buffer.alloc(0)
            : content.subarray(start, start + length),
      };
      const [cut] = await pool.inspect('weights.bin', short, LIMITS);
      expect(cut).toMatchObject({ status: 'fail' });
    } finally {
      await pool.close();
    }
  });

  it('ends a worker after a file that was handed many bytes, keeps it after a small one', async () => {
    const pool = new InspectionPool(1);
    try {
      const small = makeSafetensors([{ name: 'w', dtype: 'F32', shape: [2] }]);
      await pool.inspect('a.safetensors', bufferSource(small), LIMITS);
      expect(pool.workerCount).toBe(1);
      // a raw pickle scan is handed 16 MiB: its worker's buffers go with it
      const big = bufferSource(longPickle(17 * 1024 * 1024));
      const [scan] = await pool.inspect('weights.bin', big, LIMITS);
      expect(scan).toMatchObject({ status: 'fail' });
      expect(pool.workerCount).toBe(0);
      // the next file gets a fresh worker
      const [next] = await pool.inspect(
        'b.safetensors',
        bufferSource(small),
        LIMITS,
      );
      expect(next.details.parameterCount).toBe(2);
      expect(pool.workerCount).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('loads the worker module set for bundled processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inspection-entry-'));
    const marker = join(dir, 'loaded');
    const entry = join(dir, 'worker.js');
    // a separately built worker module; here: the sources, and a marker
    writeFileSync(
      entry,
      `require('node:fs').appendFileSync(${JSON.stringify(marker)}, 'x');
require(${JSON.stringify(
        require.resolve('@backstage/cli/config/nodeTransform.cjs'),
      )});
require(${JSON.stringify(inspectionWorkerPath)});
`,
    );
    setInspectionWorkerEntry(entry);
    const pool = new InspectionPool(1);
    try {
      const file = makeSafetensors([{ name: 'w', dtype: 'F32', shape: [7] }]);
      const [check] = await pool.inspect(
        'm.safetensors',
        bufferSource(file),
        LIMITS,
      );
      expect(check.details.parameterCount).toBe(7);
      expect(readFileSync(marker, 'utf8')).toBe('x');
    } finally {
      await pool.close();
      setInspectionWorkerEntry(inspectionWorkerPath);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
