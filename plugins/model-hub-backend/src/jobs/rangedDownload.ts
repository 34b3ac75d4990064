import { setMaxListeners } from 'node:events';
import { promises as fs } from 'node:fs';
import {
  AlignedBufferPool,
  POSITIONAL_ALIGNMENT,
  PositionalFileWriter,
} from '../store/PositionalFileWriter';
import { RetryableJobError } from './JobWorker';
import { createPieceHasher } from './PieceHasher';
import { hashPieces, SerialTask, takeBuffer } from './pieceHashing';
import {
  loadState,
  PieceDownloadOptions,
  PieceDownloadStats,
  PieceState,
  pieceStatePath,
  RangesUnsupportedError,
  Segment,
} from './pieceState';

export { pieceStatePath, RangesUnsupportedError } from './pieceState';
export type {
  ParallelDownloadOptions,
  PieceDownloadOptions,
  PieceDownloadStats,
} from './pieceState';

const DEFAULT_PIECE_BYTES = 32 * 1024 * 1024;
const PIECE_ALIGNMENT = 4 * 1024 * 1024;
/** Bytes per buffer (and per write), a divisor of the piece alignment. */
const BLOCK_BYTES = 4 * 1024 * 1024;
/**
 * Memory for received bytes not yet hashed or written, by default: one
 * piece per connection (what the pieces ahead of the hash hold when the
 * connections finish together), within these bounds.
 */
const MIN_MEMORY_BYTES = 64 * 1024 * 1024;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const ATTEMPTS_PER_PIECE = 3;

/**
 * Downloads a file into `tempPath` with up to `connections` ranged requests
 * at a time, each piece written at its offset. Pieces are taken in file
 * order, so the file fills from its start and the SHA-256 follows close
 * behind, from memory: each connection copies what it receives into
 * page-aligned 4 MiB buffers (a fixed pool of `memoryBytes`, by default
 * one piece per connection within 64-256 MiB); a full buffer is written at
 * its offset (past the page cache with `O_DIRECT` where the filesystem's
 * write mode is `direct`, see {@link PositionalFileWriter}) and, in file
 * order, hashed where it is by a worker thread (the memory is shared), on
 * the other core while this thread receives.
 * A buffer is reused once it is both written and hashed. When the pool
 * runs dry (the hash waits for the lowest piece while later ones arrive),
 * the written, not yet hashed buffer furthest ahead is given up and its
 * bytes are read back from the file when the hash gets there. So every
 * byte is copied once in user space, hashed once and written once, and
 * the memory stays bounded.
 *
 * Resume: after each `checkpointBytes` (64 MiB) received and each finished
 * piece, the file is fdatasynced and the bytes written per piece (from the
 * piece's start) are recorded in `<tempPath>.pieces` (written to a
 * temporary name and renamed). Page-cache writes wait while more than
 * twice `checkpointBytes` are not yet synced (bounded dirty data). A later
 * call with the same file continues each piece where it stopped; the kept
 * bytes are hashed again from the file. A piece whose connection breaks is
 * retried in place (3 attempts) from what it wrote; then the download fails
 * with a {@link RetryableJobError} and keeps its pieces.
 *
 * Throws {@link RangesUnsupportedError} when the upstream ignores ranges.
 * Returns the SHA-256 of the whole file, fsynced; the caller compares it.
 *
 * @internal
 */
export async function downloadPieces(options: PieceDownloadOptions): Promise<{
  sha256: string;
  resumedBytes: number;
  stats: PieceDownloadStats;
}> {
  const { size, tempPath } = options;
  const pieceBytes =
    Math.ceil((options.pieceBytes ?? DEFAULT_PIECE_BYTES) / PIECE_ALIGNMENT) *
    PIECE_ALIGNMENT;
  const count = Math.max(1, Math.ceil(size / pieceBytes));
  const startOf = (i: number) => i * pieceBytes;
  const lengthOf = (i: number) => Math.min(size, startOf(i + 1)) - startOf(i);
  const statePath = pieceStatePath(tempPath);
  const identity = { size, pieceBytes, sha256: options.sha256 };
  const connections = Math.max(1, Math.min(options.connections, count));

  const stat = await fs.stat(tempPath).catch(() => undefined);
  let durable =
    stat?.size === size
      ? await loadState(statePath, identity, count)
      : undefined;
  if (!durable) {
    const created = await fs.open(tempPath, 'w');
    try {
      await created.truncate(size);
    } finally {
      await created.close();
    }
  }
  const memoryBytes =
    options.memoryBytes ??
    Math.min(
      Math.max(connections * pieceBytes, MIN_MEMORY_BYTES),
      MAX_MEMORY_BYTES,
    );
  const buffers = Math.min(
    Math.max(Math.floor(memoryBytes / BLOCK_BYTES), 2 * connections + 1),
    Math.ceil(size / BLOCK_BYTES) + connections + 1,
  );
  // one more: the hash's reads of bytes kept on disk
  const pool = new AlignedBufferPool(buffers + 1, BLOCK_BYTES);
  const readBuf = pool.tryTake()!;
  const file = await PositionalFileWriter.open(tempPath, {
    mode: options.writeMode,
    alignedMemory: pool.aligned,
  });
  const direct = file.usesDirectIo;
  let settle = async () => {};
  let closeHasher = async () => {};
  try {
    durable = (durable ?? new Array<number>(count).fill(0)).map((n, i) => {
      const kept = Math.min(n, lengthOf(i));
      // direct writes continue on a 4 KiB boundary
      return direct && kept < lengthOf(i)
        ? kept - (kept % POSITIONAL_ALIGNMENT)
        : kept;
    });
    const resumedBytes = durable.reduce((a, b) => a + b, 0);
    if (resumedBytes > 0) {
      await options.log?.(
        `Resuming ${count} pieces: ${resumedBytes} of ${size} bytes kept`,
      );
    }

    const abort = new AbortController();
    // each connection's request listens to it, and the waits below
    setMaxListeners(connections + 10, abort.signal);
    const onAbort = () => abort.abort(options.signal.reason);
    options.signal.addEventListener('abort', onAbort);
    if (options.signal.aborted) {
      onAbort();
    }

    /** Bytes of each piece written, from its start (not yet fsynced). */
    const written = [...durable];
    /** Each piece's segments not yet hashed, in order. */
    const queues: Segment[][] = durable.map((n, i) =>
      n > 0
        ? [
            {
              piece: i,
              offset: startOf(i),
              length: n,
              written: true,
              posted: false,
              hashed: false,
            },
          ]
        : [],
    );
    /** Written, not yet hashed segments in memory: given up when short. */
    const evictable = new Set<Segment>();
    const stats: PieceDownloadStats = {
      directIo: direct,
      hashedFromMemory: 0,
      hashedFromDisk: 0,
      peakBuffers: 0,
      bufferBytes: BLOCK_BYTES,
    };
    // one wake-up for everything that waits: the hasher (a segment
    // queued), a connection (a buffer freed or evictable), the abort
    let waiters: Array<() => void> = [];
    const notify = () => {
      const w = waiters;
      waiters = [];
      w.forEach(f => f());
    };
    const changed = () =>
      new Promise<void>(resolve => {
        waiters.push(resolve);
      });
    abort.signal.addEventListener('abort', notify);

    const release = (seg: Segment) => {
      if (seg.buf && seg.written && seg.hashed) {
        pool.give(seg.buf);
        seg.buf = undefined;
        notify();
      }
    };
    const take = () =>
      takeBuffer({ pool, evictable, stats, signal: abort.signal, changed });

    let total = resumedBytes;
    options.onBytes?.(total);

    // checkpoints: one at a time; a request while one runs queues one more
    // (which takes its snapshot when it starts), requests while that one
    // waits share it
    const inflight = new Set<Promise<void>>();
    let writtenTotal = resumedBytes;
    let syncedTotal = resumedBytes;
    let lastCheckpoint = resumedBytes;
    const checkpointBytes = options.checkpointBytes ?? 64 * 1024 * 1024;
    const checkpoints = new SerialTask(async () => {
      const snapshot = [...written];
      const upTo = writtenTotal;
      await file.datasync();
      syncedTotal = Math.max(syncedTotal, upTo);
      const tmp = `${statePath}.tmp`;
      await fs.writeFile(
        tmp,
        JSON.stringify({ ...identity, durable: snapshot } as PieceState),
      );
      await fs.rename(tmp, statePath);
    });
    const checkpoint = () => checkpoints.run();
    settle = async () => {
      await Promise.allSettled([...inflight]);
      await checkpoints.settled();
    };

    /** Writes a filled segment (its piece's previous one is written). */
    const writeSegment = (seg: Segment) => {
      const w = (async () => {
        if (!direct) {
          // page-cache writes: bounded dirty data
          while (writtenTotal - syncedTotal > 2 * checkpointBytes) {
            await checkpoint();
          }
        }
        await file.write(seg.buf!, seg.length, seg.offset);
        seg.written = true;
        writtenTotal += seg.length;
        written[seg.piece] = seg.offset + seg.length - startOf(seg.piece);
        if (!seg.posted) {
          evictable.add(seg);
        }
        release(seg);
        notify();
      })();
      inflight.add(w);
      w.catch(() => {}).finally(() => inflight.delete(w));
      return w;
    };
    const queue = (seg: Segment) => {
      queues[seg.piece].push(seg);
      notify();
    };

    let next = 0;
    let firstError: unknown;
    const fetchPiece = async (i: number) => {
      const end = startOf(i) + lengthOf(i);
      for (let attempt = 1; ; attempt++) {
        const from = startOf(i) + written[i];
        if (from >= end) {
          return;
        }
        abort.signal.throwIfAborted();
        let filling: Segment | undefined;
        let lastWrite: Promise<void> | undefined;
        try {
          const response = await options.fetchRange(
            {
              Range: `bytes=${from}-${end - 1}`,
              'If-Range': `"${options.sha256}"`,
            },
            abort.signal,
          );
          if (response.status === 200) {
            await response.cancel();
            throw new RangesUnsupportedError(
              'The upstream answered a range with the whole file',
            );
          }
          const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(
            response.headers.get('content-range') ?? '',
          );
          if (
            response.status !== 206 ||
            !range ||
            Number(range[1]) !== from ||
            Number(range[2]) !== end - 1
          ) {
            await response.cancel();
            const message = `The upstream answered bytes ${from}-${
              end - 1
            } with ${response.status} ${
              response.headers.get('content-range') ?? ''
            }`;
            throw response.status >= 500 || response.status === 408
              ? new TypeError(message) // retried below
              : new RetryableJobError(message);
          }
          let position = from;
          // chunks are views of the client's read buffer: copied at once
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            if (position + chunk.length > end) {
              throw new RetryableJobError(
                `The upstream sent more than bytes ${from}-${end - 1}`,
              );
            }
            let at = 0;
            while (at < chunk.length) {
              if (!filling) {
                const buf = await take();
                filling = {
                  piece: i,
                  offset: position,
                  length: 0,
                  buf,
                  written: false,
                  posted: false,
                  hashed: false,
                };
              }
              const n = Math.min(
                chunk.length - at,
                BLOCK_BYTES - filling.length,
              );
              filling.buf!.set(chunk.subarray(at, at + n), filling.length);
              filling.length += n;
              at += n;
              position += n;
              if (filling.length === BLOCK_BYTES || position === end) {
                const seg = filling;
                filling = undefined;
                queue(seg);
                // one write at a time per piece, in order, while the next
                // buffer fills
                await lastWrite;
                lastWrite = writeSegment(seg);
              }
            }
            total += chunk.length;
            options.onBytes?.(total);
            if (total - lastCheckpoint >= checkpointBytes) {
              lastCheckpoint = total;
              checkpoint().catch(() => {}); // a failure shows on the next
            }
          }
          if (position !== end) {
            throw new TypeError(
              `The range ${from}-${end - 1} ended at byte ${position}`,
            );
          }
          await lastWrite;
          return;
        } catch (error) {
          // keep what was received, for the next attempt (direct writes:
          // up to a 4 KiB boundary)
          if (filling) {
            const seg: Segment = filling;
            filling = undefined;
            const keep = direct
              ? seg.length - (seg.length % POSITIONAL_ALIGNMENT)
              : seg.length;
            total -= seg.length - keep;
            seg.length = keep;
            if (keep > 0) {
              queue(seg);
              await lastWrite?.catch(() => {});
              lastWrite = writeSegment(seg);
            } else {
              pool.give(seg.buf!);
              notify();
            }
          }
          await lastWrite?.catch(() => {});
          const network =
            error instanceof TypeError ||
            (error as Error).name === 'HttpStreamError';
          if (
            abort.signal.aborted ||
            !network ||
            attempt >= ATTEMPTS_PER_PIECE
          ) {
            throw error;
          }
          await options.log?.(
            `Piece ${i + 1}/${count} broke off at byte ${
              startOf(i) + written[i]
            } (${(error as Error).message}); retrying it`,
          );
          await new Promise(r => setTimeout(r, 200 * attempt));
        }
      }
    };
    const worker = async () => {
      while (next < count) {
        const i = next++;
        try {
          await fetchPiece(i);
          checkpoint().catch(() => {});
        } catch (error) {
          if (firstError === undefined) {
            firstError = error;
          }
          abort.abort(error);
          throw error;
        }
      }
    };

    // the hash: pieces in order, from memory where the bytes still are
    const hasher = createPieceHasher(pool.memory);
    closeHasher = () => hasher.close();
    let hashFailure: unknown;
    const hashing = hashPieces({
      count,
      startOf,
      lengthOf,
      queues,
      evictable,
      stats,
      hasher,
      file,
      readBuf,
      blockBytes: BLOCK_BYTES,
      signal: abort.signal,
      changed,
      release,
      failure: () => hashFailure,
      onFailure: error => {
        hashFailure ??= error;
        notify();
      },
    });
    hashing.catch(() => {});

    const workers = Array.from({ length: connections }, () => worker());
    const results = await Promise.allSettled(workers);
    let failure: unknown = results.some(r => r.status === 'rejected')
      ? firstError
      : undefined;
    let digest: string | undefined;
    if (failure === undefined) {
      try {
        digest = await hashing;
      } catch (error) {
        failure = error; // stopped while hashing
      }
    }
    options.signal.removeEventListener('abort', onAbort);
    if (failure !== undefined) {
      abort.abort(failure);
      await hashing.catch(() => {});
      await Promise.allSettled([...inflight]);
      // a failed checkpoint keeps the previous state: the pieces written
      // since then are fetched again
      await checkpoint().catch(() => {});
      const error = failure as Error;
      if (
        error instanceof RangesUnsupportedError ||
        error instanceof RetryableJobError ||
        options.signal.aborted
      ) {
        throw error;
      }
      throw new RetryableJobError(
        `The parallel download broke off: ${error.message}`,
      );
    }
    // an fsync error fails the download; it is never retried
    await file.sync();
    await options.log?.(
      `Downloaded ${size} bytes in ${count} pieces over ${connections} connections (${
        direct ? 'direct I/O' : 'page cache'
      }); hashed ${stats.hashedFromMemory} bytes from memory, ${
        stats.hashedFromDisk
      } read back; ${stats.peakBuffers} buffers of ${
        BLOCK_BYTES / 1024 / 1024
      } MiB at most`,
    );
    return { sha256: digest!, resumedBytes, stats };
  } finally {
    // no write or checkpoint may outlive the file handle (or the caller's
    // cleanup)
    await settle();
    await closeHasher().catch(() => {});
    await file.close();
  }
}
