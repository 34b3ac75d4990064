import type {
  AlignedBufferPool,
  PositionalFileWriter,
} from '../store/PositionalFileWriter';
import type { PieceHasher } from './PieceHasher';
import type { PieceDownloadStats, Segment } from './pieceState';

/**
 * Runs a task one at a time: a request while one runs queues one more
 * (which takes its snapshot when it starts), requests while that one
 * waits share it.
 *
 * @internal
 */
export class SerialTask {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.queued) {
      return this.queued;
    }
    const save: Promise<void> = (this.running ?? Promise.resolve())
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        this.running = save;
        return this.task();
      })
      .finally(() => {
        if (this.running === save) {
          this.running = undefined;
        }
      });
    this.queued = save;
    return save;
  }

  /** Resolves once nothing runs or waits (failures ignored). */
  async settled(): Promise<void> {
    await this.queued?.catch(() => {});
    await this.running?.catch(() => {});
  }
}

/**
 * The hash of a piece download: pieces in order, each segment from memory
 * where it still is (in a worker thread where the memory is shared), else
 * read back from the file into `readBuf`. Resolves with the digest.
 *
 * @internal
 */
export async function hashPieces(ctx: {
  count: number;
  startOf: (i: number) => number;
  lengthOf: (i: number) => number;
  /** Each piece's segments not yet hashed, in order. */
  queues: Segment[][];
  evictable: Set<Segment>;
  stats: PieceDownloadStats;
  hasher: PieceHasher;
  file: PositionalFileWriter;
  readBuf: Buffer;
  blockBytes: number;
  signal: AbortSignal;
  /** Resolves on the next change (a segment queued, the abort). */
  changed: () => Promise<void>;
  /** A segment was hashed: its buffer may be free. */
  release: (seg: Segment) => void;
  /** The first failure of a hash in the background, if any. */
  failure: () => unknown;
  onFailure: (error: unknown) => void;
}): Promise<string> {
  const { hasher, stats, signal } = ctx;
  let lastRead: Promise<void> | undefined;
  for (let i = 0; i < ctx.count; i++) {
    let position = ctx.startOf(i);
    const end = position + ctx.lengthOf(i);
    while (position < end) {
      signal.throwIfAborted();
      if (ctx.failure() !== undefined) {
        throw ctx.failure();
      }
      const seg = ctx.queues[i].shift();
      if (!seg) {
        await ctx.changed();
        continue;
      }
      if (seg.offset !== position) {
        throw new Error(
          `Piece ${i + 1} has bytes from ${seg.offset}, expected ${position}`,
        );
      }
      seg.posted = true;
      ctx.evictable.delete(seg);
      if (seg.buf) {
        stats.hashedFromMemory += seg.length;
        hasher.update(seg.buf.subarray(0, seg.length)).then(() => {
          seg.hashed = true;
          ctx.release(seg);
        }, ctx.onFailure);
      } else {
        for (let at = 0; at < seg.length; at += ctx.blockBytes) {
          signal.throwIfAborted();
          const n = Math.min(ctx.blockBytes, seg.length - at);
          await lastRead; // the read buffer is free again
          await ctx.file.read(ctx.readBuf, n, seg.offset + at);
          lastRead = hasher.update(ctx.readBuf.subarray(0, n));
          lastRead.catch(() => {}); // awaited above, or the digest fails
        }
        seg.hashed = true;
        stats.hashedFromDisk += seg.length;
      }
      position += seg.length;
    }
  }
  return hasher.digest();
}

/**
 * A free buffer of the pool, or, when none is left, the buffer of the
 * written segment furthest ahead of the hash (its bytes are read back from
 * the file when the hash gets there); waits while neither exists.
 *
 * @internal
 */
export async function takeBuffer(ctx: {
  pool: AlignedBufferPool;
  evictable: Set<Segment>;
  stats: PieceDownloadStats;
  signal: AbortSignal;
  changed: () => Promise<void>;
}): Promise<Buffer> {
  const { pool, evictable, stats } = ctx;
  for (;;) {
    ctx.signal.throwIfAborted();
    const buf = pool.tryTake();
    if (buf) {
      stats.peakBuffers = Math.max(
        stats.peakBuffers,
        pool.count - 1 - pool.available,
      );
      return buf;
    }
    let victim: Segment | undefined;
    for (const seg of evictable) {
      if (!victim || seg.offset > victim.offset) {
        victim = seg;
      }
    }
    if (victim?.buf) {
      evictable.delete(victim);
      const b = victim.buf;
      victim.buf = undefined;
      return b;
    }
    await ctx.changed();
  }
}
