import { randomBytes, randomUUID } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '@backstage/config';
import {
  openDirect,
  pageAlignedBuffers,
  releaseBuffer,
  writeFully,
} from './alignedBuffers';

const DEFAULT_PROBE_BYTES = 32 * 1024 * 1024;
/** Bytes per probe write: the writers' default block size. */
const PROBE_BLOCK = 4 * 1024 * 1024;
/** `statfs` types of filesystems in memory (tmpfs, ramfs). */
const MEMORY_FILESYSTEMS = new Set([0x01021994, 0x858458f6]);

/**
 * How large files are written:
 *
 * - `direct`: whole, aligned blocks with `O_DIRECT`, past the page cache
 *   (unaligned heads and tails through the page cache);
 * - `buffered`: through the page cache, with an `fdatasync` started every
 *   `syncEveryBytes` while the next blocks are written, so dirty data stays
 *   bounded and the final fsync is short;
 * - `auto`: whichever of the two writes durably faster in the file's
 *   folder, measured once per filesystem ({@link resolveWriteMode}).
 *
 * @internal
 */
export type WriteMode = 'auto' | 'direct' | 'buffered';

/**
 * Reads `modelHub.storage.writeMode` (`auto`, `direct` or `buffered`); the
 * older `modelHub.storage.directIo` still works (true: `direct`, false:
 * `buffered`). Default `auto`.
 *
 * @internal
 */
export function readWriteMode(config: Config): WriteMode {
  const mode = config.getOptionalString('modelHub.storage.writeMode');
  if (mode !== undefined) {
    if (mode !== 'auto' && mode !== 'direct' && mode !== 'buffered') {
      throw new Error(
        `modelHub.storage.writeMode must be auto, direct or buffered, got '${mode}'`,
      );
    }
    return mode;
  }
  const direct = config.getOptionalBoolean('modelHub.storage.directIo');
  if (direct === undefined) {
    return 'auto';
  }
  return direct ? 'direct' : 'buffered';
}

/** What {@link resolveWriteMode} measured in a folder. @internal */
export type WriteModeDecision = {
  mode: 'direct' | 'buffered';
  /** MB/s of each mode, written and fsynced (of the best run); 0: unavailable. */
  directMBs: number;
  bufferedMBs: number;
  /**
   * Why: `configured` (not `auto`), `memory` (tmpfs or ramfs: no device to
   * write past, the page cache is the file), `probe` (measured), or
   * `platform` (no `O_DIRECT`).
   */
  basis: 'configured' | 'memory' | 'probe' | 'platform';
};

const decisions = new Map<string, Promise<WriteModeDecision>>();

/**
 * Writes `bytes` into a scratch file as the writers do (4 MiB page-aligned
 * blocks, two writes in flight), then fsyncs it; the cost is the wall time
 * plus the CPU time of the process.
 */
async function probeOnce(
  dir: string,
  mode: 'direct' | 'buffered',
  bytes: number,
  buffers: Buffer[],
): Promise<{ MBs: number; cost: number }> {
  const path = join(dir, `.write-probe-${randomUUID()}`);
  await fs.writeFile(path, '', { mode: 0o600 });
  try {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const handle = await fs.open(path, 'r+');
    try {
      const writeHandle = mode === 'direct' ? await openDirect(path) : handle;
      if (!writeHandle) {
        return { MBs: 0, cost: Infinity };
      }
      try {
        const inflight: Promise<void>[] = [];
        let next = 0;
        for (let position = 0; position < bytes; position += PROBE_BLOCK) {
          if (inflight.length >= buffers.length - 1) {
            await inflight.shift();
          }
          const buf = buffers[next++ % buffers.length];
          const length = Math.min(PROBE_BLOCK, bytes - position);
          inflight.push(writeFully(writeHandle, buf, length, position));
        }
        await Promise.all(inflight);
        await handle.sync();
      } finally {
        if (writeHandle !== handle) {
          await writeHandle.close();
        }
      }
    } finally {
      await handle.close();
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    // CPU-seconds count as time too: the hash and the HTTP reads of a
    // download need the same cores (page-cache writes of new data cost
    // seconds of system time per GiB on some VMs)
    return {
      MBs: bytes / secs / 1e6,
      cost: secs + (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    await fs.rm(path, { force: true });
  }
}

async function probe(dir: string, bytes: number): Promise<WriteModeDecision> {
  // the writers' own block size and count, from (and back to) their pool
  const buffers = pageAlignedBuffers(3, PROBE_BLOCK);
  if (!buffers) {
    return {
      mode: 'buffered',
      directMBs: 0,
      bufferedMBs: 0,
      basis: 'platform',
    };
  }
  try {
    const random = randomBytes(PROBE_BLOCK);
    buffers.forEach(b => random.copy(b));
    const best = {
      direct: { MBs: 0, cost: Infinity },
      buffered: { MBs: 0, cost: Infinity },
    };
    for (let round = 0; round < 2; round++) {
      for (const m of ['direct', 'buffered'] as const) {
        const r = await probeOnce(dir, m, bytes, buffers);
        if (r.cost < best[m].cost) {
          best[m] = r;
        }
      }
    }
    // a short probe flatters the page cache (its first-touch and
    // writeback costs grow with the size written: 2 GiB through it cost
    // 11.5 CPU-s on this VM, direct 4.5): only a clear win counts
    const chosen: 'direct' | 'buffered' =
      best.buffered.cost < best.direct.cost * 0.5 ? 'buffered' : 'direct';
    return {
      mode: chosen,
      directMBs: best.direct.MBs,
      bufferedMBs: best.buffered.MBs,
      basis: 'probe',
    };
  } finally {
    buffers.forEach(releaseBuffer);
  }
}

/**
 * The write mode for files in `dir`: `direct` and `buffered` are taken as
 * they are. `auto` takes page-cache writes on a filesystem in memory
 * (tmpfs, ramfs: by `statfs` type; there is no device to write past, and a
 * probe there measures only noise); elsewhere it writes `probeBytes`
 * (default 32 MiB) twice each way into a scratch file there, fsync
 * included, and takes page-cache writes when they cost less than half
 * (wall time plus CPU time of the process, best of two; where direct
 * writes are refused or slow, as on a disk that wants larger blocks), else
 * direct I/O (no eviction of the page cache). The decision is made once per
 * filesystem (device) and process; concurrent callers share it.
 *
 * @internal
 */
export async function resolveWriteMode(
  dir: string,
  mode: WriteMode = 'auto',
  options: { probeBytes?: number } = {},
): Promise<WriteModeDecision> {
  if (mode !== 'auto') {
    return { mode, directMBs: 0, bufferedMBs: 0, basis: 'configured' };
  }
  if (constants.O_DIRECT === undefined) {
    return {
      mode: 'buffered',
      directMBs: 0,
      bufferedMBs: 0,
      basis: 'platform',
    };
  }
  const { dev } = await fs.stat(dir);
  const key = String(dev);
  let decision = decisions.get(key);
  if (!decision) {
    decision = (async (): Promise<WriteModeDecision> => {
      const { type } = await fs.statfs(dir);
      if (MEMORY_FILESYSTEMS.has(Number(type))) {
        return {
          mode: 'buffered',
          directMBs: 0,
          bufferedMBs: 0,
          basis: 'memory',
        };
      }
      return probe(dir, options.probeBytes ?? DEFAULT_PROBE_BYTES);
    })();
    decisions.set(key, decision);
    decision.catch(() => decisions.delete(key));
  }
  return decision;
}

/** Forgets the measurements of {@link resolveWriteMode} (tests). @internal */
export function forgetWriteModeDecisions() {
  decisions.clear();
}
