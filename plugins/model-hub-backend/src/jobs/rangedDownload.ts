import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileResponse } from '../huggingface/HuggingFaceClient';
import { SequentialFileWriter } from '../store/SequentialFileWriter';
import { RetryableJobError } from './JobWorker';

/** Parallel ranged downloads of large files. @internal */
export type ParallelDownloadOptions = {
  /** Connections per file (1: one stream). */
  connections: number;
  /** Files of at least this many bytes are fetched in parallel ranges. */
  minBytes: number;
  /** Bytes per ranged request (default 32 MiB, a multiple of 4 MiB). */
  pieceBytes?: number;
};

/** The upstream answered a range with the whole file: use one stream. @internal */
export class RangesUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RangesUnsupportedError';
  }
}

const DEFAULT_PIECE_BYTES = 32 * 1024 * 1024;
const PIECE_ALIGNMENT = 4 * 1024 * 1024;
const READ_CHUNK = 4 * 1024 * 1024;
const WRITE_BLOCK = 4 * 1024 * 1024;
const ATTEMPTS_PER_PIECE = 3;

/** The resume state, next to the partial file. */
type PieceState = {
  size: number;
  pieceBytes: number;
  sha256: string;
  /** Bytes of each piece written and fsynced, from the piece's start. */
  durable: number[];
};

/** The path of a partial file's piece state. @internal */
export function pieceStatePath(tempPath: string) {
  return `${tempPath}.pieces`;
}

async function loadState(
  path: string,
  expected: Omit<PieceState, 'durable'>,
  count: number,
): Promise<number[] | undefined> {
  try {
    const state = JSON.parse(await fs.readFile(path, 'utf8')) as PieceState;
    if (
      state.size === expected.size &&
      state.pieceBytes === expected.pieceBytes &&
      state.sha256 === expected.sha256 &&
      Array.isArray(state.durable) &&
      state.durable.length === count &&
      state.durable.every(n => Number.isSafeInteger(n) && n >= 0)
    ) {
      return state.durable;
    }
  } catch {
    // missing or torn by a crash: start again
  }
  return undefined;
}

/** Resolves each piece's completion, in any order. */
class Latch {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => {});
  }
}

/**
 * Downloads a file into `tempPath` with up to `connections` ranged requests
 * at a time, each writing its piece at its offset through its own
 * {@link SequentialFileWriter}. Pieces are taken in file order, so the
 * SHA-256 follows close behind: a hasher reads each piece back as soon as
 * every piece before it is complete, while the later ones are still
 * downloading. Pieces are written through the page cache (read back from
 * memory: after direct writes the read-back from a virtual disk cost more
 * than the download), and each checkpoint's fdatasync bounds the dirty
 * data.
 *
 * Resume: after each 64 MiB written and each finished piece, the file is
 * fdatasynced and the bytes durable per piece are recorded in
 * `<tempPath>.pieces` (written to a temporary name and renamed). A later
 * call with the same file continues each piece where it stopped; the kept
 * bytes are hashed again from disk. A piece whose connection breaks is
 * retried in place (3 attempts) from what it wrote; then the download fails
 * with a {@link RetryableJobError} and keeps its pieces.
 *
 * Throws {@link RangesUnsupportedError} when the upstream ignores ranges.
 * Returns the SHA-256 of the whole file, fsynced; the caller compares it.
 *
 * @internal
 */
export async function downloadPieces(options: {
  size: number;
  /** The expected SHA-256 (the resume state is bound to it). */
  sha256: string;
  path: string;
  tempPath: string;
  fetchRange: (
    headers: Record<string, string>,
    signal: AbortSignal,
  ) => Promise<FileResponse>;
  connections: number;
  pieceBytes?: number;
  signal: AbortSignal;
  checkpointBytes?: number;
  onBytes?: (bytes: number) => void;
  log?: (message: string) => Promise<void> | void;
}): Promise<{ sha256: string; resumedBytes: number }> {
  const { size, tempPath } = options;
  const pieceBytes =
    Math.ceil((options.pieceBytes ?? DEFAULT_PIECE_BYTES) / PIECE_ALIGNMENT) *
    PIECE_ALIGNMENT;
  const count = Math.max(1, Math.ceil(size / pieceBytes));
  const startOf = (i: number) => i * pieceBytes;
  const lengthOf = (i: number) => Math.min(size, startOf(i + 1)) - startOf(i);
  const statePath = pieceStatePath(tempPath);
  const identity = { size, pieceBytes, sha256: options.sha256 };

  const stat = await fs.stat(tempPath).catch(() => undefined);
  let durable =
    stat?.size === size
      ? await loadState(statePath, identity, count)
      : undefined;
  const handle = await fs.open(tempPath, durable ? 'r+' : 'w+');
  let settleCheckpoints = async () => {};
  try {
    if (!durable) {
      durable = new Array<number>(count).fill(0);
      await handle.truncate(size);
    }
    durable = durable.map((n, i) => Math.min(n, lengthOf(i)));
    const resumedBytes = durable.reduce((a, b) => a + b, 0);
    if (resumedBytes > 0) {
      await options.log?.(
        `Resuming ${count} pieces: ${resumedBytes} of ${size} bytes kept`,
      );
    }

    const abort = new AbortController();
    const onAbort = () => abort.abort(options.signal.reason);
    options.signal.addEventListener('abort', onAbort);
    const done = durable.map(() => new Latch());
    /** Bytes of each piece written (not yet fsynced). */
    const written = [...durable];
    const writers = new Map<number, SequentialFileWriter>();
    const progressOf = (i: number) => {
      const w = writers.get(i);
      return w ? w.written - startOf(i) : written[i];
    };
    let total = resumedBytes;
    options.onBytes?.(total);

    // checkpoints: one at a time; a request while one runs queues one more
    // (which takes its snapshot when it starts), requests while that one
    // waits share it
    let running: Promise<void> | undefined;
    let queued: Promise<void> | undefined;
    settleCheckpoints = async () => {
      await queued?.catch(() => {});
      await running?.catch(() => {});
    };
    let lastCheckpoint = resumedBytes;
    const checkpointBytes = options.checkpointBytes ?? 64 * 1024 * 1024;
    const saveState = async () => {
      const snapshot = durable!.map((_, i) => progressOf(i));
      await handle.datasync();
      const tmp = `${statePath}.tmp`;
      await fs.writeFile(
        tmp,
        JSON.stringify({ ...identity, durable: snapshot } as PieceState),
      );
      await fs.rename(tmp, statePath);
    };
    const checkpoint = (): Promise<void> => {
      if (queued) {
        return queued;
      }
      const save: Promise<void> = (running ?? Promise.resolve())
        .catch(() => {})
        .then(() => {
          queued = undefined;
          running = save;
          return saveState();
        })
        .finally(() => {
          if (running === save) {
            running = undefined;
          }
        });
      queued = save;
      return save;
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
        let writer: SequentialFileWriter | undefined;
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
          // through the page cache, so that the hasher reads the piece
          // back from memory; the checkpoints' fdatasync bounds dirty data
          writer = await SequentialFileWriter.open(tempPath, from, {
            mode: 'buffered',
            syncEveryBytes: 0,
            blockSize: WRITE_BLOCK,
            maxInflight: 1,
          });
          writers.set(i, writer);
          let position = from;
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            if (position + chunk.length > end) {
              throw new RetryableJobError(
                `The upstream sent more than bytes ${from}-${end - 1}`,
              );
            }
            position += chunk.length;
            total += chunk.length;
            const wait = writer.write(chunk);
            if (wait) {
              await wait;
            }
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
          await writer.flush();
          written[i] = lengthOf(i);
          writers.delete(i);
          await writer.close();
          return;
        } catch (error) {
          if (writer) {
            // keep what was written, for the next attempt
            await writer
              .flush()
              .then(w => {
                written[i] = w - startOf(i);
              })
              .catch(() => {});
            writers.delete(i);
            await writer.close().catch(() => {});
          }
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
          done[i].resolve();
          checkpoint().catch(() => {});
        } catch (error) {
          if (firstError === undefined) {
            firstError = error;
          }
          done[i].reject(error);
          abort.abort(error);
          throw error;
        }
      }
    };

    // the hasher: pieces in order, each read back once complete
    const hash = createHash('sha256');
    const hasher = (async () => {
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, size) || 1);
      for (let i = 0; i < count; i++) {
        await done[i].promise;
        let position = startOf(i);
        const end = position + lengthOf(i);
        while (position < end) {
          abort.signal.throwIfAborted();
          const { bytesRead } = await handle.read(
            buf,
            0,
            Math.min(buf.length, end - position),
            position,
          );
          if (!bytesRead) {
            throw new RetryableJobError(
              `The partial file ended at byte ${position} of ${size}`,
              0,
            );
          }
          hash.update(buf.subarray(0, bytesRead));
          position += bytesRead;
        }
      }
    })();
    hasher.catch(() => {});

    const workers = Array.from(
      { length: Math.min(options.connections, count) },
      () => worker(),
    );
    const results = await Promise.allSettled(workers);
    let failure: unknown = results.some(r => r.status === 'rejected')
      ? firstError
      : undefined;
    if (failure === undefined) {
      try {
        await hasher;
      } catch (error) {
        failure = error; // stopped while hashing
      }
    }
    options.signal.removeEventListener('abort', onAbort);
    if (failure !== undefined) {
      await hasher.catch(() => {});
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
    await handle.sync();
    return { sha256: hash.digest('hex'), resumedBytes };
  } finally {
    // no checkpoint may outlive the handle (or the caller's cleanup)
    await settleCheckpoints();
    await handle.close();
  }
}
