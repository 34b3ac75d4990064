import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import type { FileResponse } from '../huggingface/HuggingFaceClient';
import { PartialDownloadStore } from './PartialDownloadStore';
import { SequentialFileWriter, WriteMode } from '../store/SequentialFileWriter';
import { BlockHasher, createBlockHasher, HashSpec } from '../store/BlockHasher';
import { RetryableJobError } from './JobWorker';
import {
  downloadPieces,
  ParallelDownloadOptions,
  pieceStatePath,
  RangesUnsupportedError,
} from './rangedDownload';

/** A file to download, as the Hub's tree lists it. @internal */
export type DownloadFile = {
  path: string;
  size: number;
  /** git blob sha1 (of the LFS pointer for LFS files). */
  oid: string;
  /** SHA-256 of the content, for LFS files. */
  lfsSha256?: string;
};

/** An error of a download that must not be retried. @internal */
export class DownloadVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadVerificationError';
  }
}

/** Size of the writes to the partial file and of the reads of its prefix. */
const IO_CHUNK = 4 * 1024 * 1024;
/** At most one progress report per this many milliseconds. */
const PROGRESS_INTERVAL_MS = 250;
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;

/** The key of a download: the content identity the Hub announces. @internal */
export function blobKeyOf(file: DownloadFile): string {
  return file.lfsSha256 ? `sha256:${file.lfsSha256}` : `gitsha1:${file.oid}`;
}

type FileHandle = fs.FileHandle;

/** Feeds the first `length` bytes of a file to the hasher, in large reads. */
async function hashPrefix(
  handle: FileHandle,
  length: number,
  hasher: BlockHasher,
  signal: AbortSignal,
) {
  const buf = Buffer.allocUnsafe(Math.min(IO_CHUNK, length));
  let position = 0;
  while (position < length) {
    signal.throwIfAborted();
    const { bytesRead } = await handle.read(
      buf,
      0,
      Math.min(buf.length, length - position),
      position,
    );
    if (!bytesRead) {
      throw new RetryableJobError(
        `The partial file ended at byte ${position} of ${length}`,
        0,
      );
    }
    await hasher.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** What {@link downloadBlob} takes. @internal */
export type DownloadBlobOptions = {
  file: DownloadFile;
  url: string;
  fetchRange: (
    headers: Record<string, string>,
    signal: AbortSignal,
  ) => Promise<FileResponse>;
  artifacts: ArtifactStore;
  partials: PartialDownloadStore;
  dir: string;
  jobId?: string;
  signal: AbortSignal;
  onBytes?: (bytes: number) => void;
  log?: (message: string) => Promise<void> | void;
  checkpointBytes?: number;
  /** How the partial file is written (default `auto`). */
  writeMode?: WriteMode;
  /** Parallel ranged requests for large LFS files (default: one stream). */
  parallel?: ParallelDownloadOptions;
  /**
   * Files from this size on are hashed in a worker thread, off the thread
   * that receives the bytes (default 32 MiB).
   */
  backgroundHashMinBytes?: number;
};

/** What {@link downloadBlob} returns. @internal */
export type DownloadBlobResult = PutBlobResult & { resumedFrom: number };

/**
 * A download of one partial file in progress in this process, shared by
 * every caller that asks for the same content into the same folder.
 */
type Flight = {
  promise: Promise<DownloadBlobResult>;
  /** Settles (never rejects) when the download ended. */
  done: Promise<void>;
  /** Aborted once every caller aborted. */
  controller: AbortController;
  callers: number;
  listeners: Set<(bytes: number) => void>;
};

/** Downloads in progress, by the absolute path of their partial file. */
const flights = new Map<string, Flight>();

/**
 * Downloads a file into the content-addressed store, verified before the
 * blob enters it: SHA-256 against the LFS oid, or the git blob SHA-1 for
 * regular files. Bytes go to a partial file next to the store as they
 * arrive, and are hashed as they are written (in a worker thread for large
 * files, reading the writer's blocks in shared memory); every `checkpointBytes` the length
 * written is recorded, and a later call (after a crash or a restart)
 * resumes from that offset with `Range: bytes=<offset>-` and `If-Range`,
 * hashing the kept prefix once. A mismatch removes the partial file, stores
 * nothing and throws a {@link DownloadVerificationError}; network failures
 * throw a {@link RetryableJobError} and keep the partial bytes.
 *
 * Each byte is written once: the verified, fsynced partial file is handed to
 * the store with {@link ArtifactStore.putFile} (a rename for the local store
 * on the same filesystem). The bytes are copied into 4 MiB blocks written
 * by a {@link SequentialFileWriter} (with `O_DIRECT` where the filesystem
 * allows, two writes in flight while the next block fills), so memory stays
 * at a few blocks whatever the file size.
 *
 * Two downloads of the same file never share a partial file: downloads of
 * one content key into one folder are one fetch per process (later callers
 * join the running one, get its progress and its result; a caller that
 * aborts leaves it running for the others, the last one stops it), and
 * across processes that share the folder a lock file next to the partial
 * file lets one of them write it while the others wait, then take the
 * stored blob. Storing a blob is idempotent (content-addressed).
 *
 * @internal
 */
export async function downloadBlob(
  options: DownloadBlobOptions,
): Promise<DownloadBlobResult> {
  const tempPath = partialPathOf(options.dir, blobKeyOf(options.file));
  const key = resolve(tempPath);
  for (;;) {
    options.signal.throwIfAborted();
    const running = flights.get(key);
    if (running && running.controller.signal.aborted) {
      // every caller of it gave up: let it end, then start again
      await running.done;
      continue;
    }
    if (running) {
      await options.log?.(
        `${options.file.path}: the same file (${blobKeyOf(
          options.file,
        )}) is being downloaded for another job; waiting for that download`,
      );
      return joinFlight(running, options, false);
    }
    const flight = startFlight(key, tempPath, options);
    return joinFlight(flight, options, true);
  }
}

/** The partial file of a download. */
function partialPathOf(dir: string, blobKey: string): string {
  return join(dir, `${blobKey.replace(':', '-')}.partial`);
}

function startFlight(
  key: string,
  tempPath: string,
  options: DownloadBlobOptions,
): Flight {
  const controller = new AbortController();
  const listeners = new Set<(bytes: number) => void>();
  const promise = (async () => {
    const lock = await acquirePartialLock(
      tempPath,
      controller.signal,
      options.log,
    );
    try {
      if (lock.waited && options.file.lfsSha256) {
        // another instance held the partial file: it may have stored it
        const stored = await options.artifacts.stat(options.file.lfsSha256);
        if (stored && stored.size === options.file.size) {
          await options.log?.(
            `${options.file.path}: stored by another instance meanwhile`,
          );
          return {
            sha256: stored.sha256,
            size: stored.size,
            location: '',
            created: false,
            resumedFrom: 0,
          };
        }
      }
      return await downloadBlobOnce({
        ...options,
        signal: controller.signal,
        onBytes: bytes => listeners.forEach(listener => listener(bytes)),
      });
    } finally {
      await lock.release();
    }
  })();
  const flight: Flight = {
    promise,
    done: promise.then(
      () => undefined,
      () => undefined,
    ),
    controller,
    callers: 0,
    listeners,
  };
  flights.set(key, flight);
  void flight.done.then(() => {
    if (flights.get(key) === flight) {
      flights.delete(key);
    }
  });
  return flight;
}

/**
 * Waits for a flight on behalf of one caller: its progress reaches the
 * caller's `onBytes`, and the caller's abort leaves the download running
 * for the others; the last one to abort stops it and waits for it to end
 * (its partial bytes stay for a resume).
 */
async function joinFlight(
  flight: Flight,
  options: DownloadBlobOptions,
  leader: boolean,
): Promise<DownloadBlobResult> {
  const { signal } = options;
  flight.callers += 1;
  const listener = options.onBytes;
  if (listener) {
    flight.listeners.add(listener);
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>(resolveAborted => {
    onAbort = () => resolveAborted('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const settle = (result: DownloadBlobResult) =>
    // one caller created the blob; the others found it stored
    leader ? result : { ...result, created: false };
  try {
    const first = signal.aborted
      ? 'aborted'
      : await Promise.race([flight.promise, aborted]);
    if (first !== 'aborted') {
      return settle(first);
    }
    if (flight.callers > 1) {
      // the others still want the file
      throw signal.reason;
    }
    // the last caller: the download stops (keeping its partial bytes, as
    // an abort always did) and its outcome is this caller's
    flight.controller.abort(signal.reason);
    return settle(await flight.promise);
  } finally {
    signal.removeEventListener('abort', onAbort!);
    if (listener) {
      flight.listeners.delete(listener);
    }
    flight.callers -= 1;
  }
}

/** How often a held lock file is touched, and when an untouched one is stale. */
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 200;

type LockOwner = { host: string; pid: number; token: string; since: string };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(
  lockPath: string,
): Promise<{ owner?: LockOwner; mtimeMs: number } | undefined> {
  try {
    const [text, stat] = await Promise.all([
      fs.readFile(lockPath, 'utf8'),
      fs.stat(lockPath),
    ]);
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(text);
    } catch {
      // being written, or torn: its age decides
    }
    return { owner, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

/**
 * The lock of a partial file among processes that share the download
 * folder (instances of the backend on one volume): `<partial>.lock`,
 * created exclusively, touched every few seconds while held. A lock of a
 * process of this host that is gone, or one untouched for 30 s, is stale
 * and taken over (the partial bytes it left are resumed).
 */
async function acquirePartialLock(
  tempPath: string,
  signal: AbortSignal,
  log?: (message: string) => Promise<void> | void,
): Promise<{ waited: boolean; release: () => Promise<void> }> {
  const lockPath = `${tempPath}.lock`;
  const owner: LockOwner = {
    host: hostname(),
    pid: process.pid,
    token: randomUUID(),
    since: new Date().toISOString(),
  };
  await fs.mkdir(dirname(lockPath), { recursive: true });
  let waited = false;
  for (;;) {
    signal.throwIfAborted();
    try {
      await fs.writeFile(lockPath, JSON.stringify(owner), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    const held = await readLock(lockPath);
    if (!held) {
      continue;
    }
    const gone =
      held.owner &&
      held.owner.host === owner.host &&
      held.owner.pid !== process.pid &&
      !processAlive(held.owner.pid);
    if (gone || Date.now() - held.mtimeMs > LOCK_STALE_MS) {
      // only the lock that was judged stale is removed
      const again = await readLock(lockPath);
      if (again && again.owner?.token === held.owner?.token) {
        await fs.rm(lockPath, { force: true });
        await log?.(
          `Took over the stale lock of ${tempPath}${
            held.owner ? ` (${held.owner.host} pid ${held.owner.pid})` : ''
          }`,
        );
      }
      continue;
    }
    if (!waited) {
      waited = true;
      await log?.(
        `${tempPath} is being written by another process${
          held.owner ? ` (${held.owner.host} pid ${held.owner.pid})` : ''
        }; waiting for it`,
      );
    }
    await sleep(LOCK_POLL_MS, undefined, { signal });
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => {});
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    waited,
    release: async () => {
      clearInterval(heartbeat);
      const held = await readLock(lockPath).catch(() => undefined);
      if (held?.owner?.token === owner.token) {
        await fs.rm(lockPath, { force: true }).catch(() => {});
      }
    },
  };
}

/** One download into the partial file, which the caller holds alone. */
async function downloadBlobOnce(
  options: DownloadBlobOptions,
): Promise<DownloadBlobResult> {
  const { file, partials, signal } = options;
  const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
  const blobKey = blobKeyOf(file);
  const tempPath = partialPathOf(options.dir, blobKey);
  await fs.mkdir(options.dir, { recursive: true });

  const parallel = options.parallel;
  if (
    parallel &&
    parallel.connections > 1 &&
    file.lfsSha256 &&
    file.size >= parallel.minBytes
  ) {
    const stored = await downloadInPieces(
      { ...options, parallel },
      file.lfsSha256,
      blobKey,
      tempPath,
    );
    if (stored) {
      return stored;
    }
    // the upstream ignores ranges: one stream from the start
  }
  await fs.rm(pieceStatePath(tempPath), { force: true });

  // Where to resume: the durable offset, if the partial file still has it.
  let offset = 0;
  const previous = await partials.get(blobKey);
  const stat = await fs.stat(tempPath).catch(() => undefined);
  if (previous && stat && previous.size === file.size) {
    offset = Math.min(previous.durableOffset, stat.size);
  }
  const handle = await fs.open(tempPath, stat ? 'r+' : 'w+');
  let handleClosed = false;
  let resumedFrom = 0;
  let closeWriter: () => Promise<void> = async () => {};
  let hasher: BlockHasher | undefined;
  const closeHandle = async () => {
    if (!handleClosed) {
      handleClosed = true;
      await handle.close();
    }
  };
  try {
    await handle.truncate(offset);
    await partials.put({
      blobKey,
      url: options.url,
      etag: previous?.etag,
      size: file.size,
      durableOffset: offset,
      tempPath,
      jobId: options.jobId,
    });

    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      const etag = file.lfsSha256 ?? file.oid;
      headers['If-Range'] = `"${etag}"`;
    }
    let response: FileResponse;
    try {
      response = await options.fetchRange(headers, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof TypeError)) {
        throw error;
      }
      throw new RetryableJobError(
        `Downloading ${file.path} failed: ${(error as Error).message}`,
      );
    }
    if (offset > 0 && response.status === 206) {
      const m = /^bytes (\d+)-/.exec(
        response.headers.get('content-range') ?? '',
      );
      if (!m || Number(m[1]) !== offset) {
        await response.cancel();
        throw new RetryableJobError(
          `The server answered the range of ${file.path} from ${m?.[1]} instead of ${offset}`,
        );
      }
      await options.log?.(
        `Resuming ${file.path} from byte ${offset} of ${file.size}`,
      );
    } else if (response.status === 200) {
      if (offset > 0) {
        await options.log?.(
          `The server ignored the range of ${file.path}; downloading it from the start`,
        );
        offset = 0;
        await handle.truncate(0);
      }
    } else {
      await response.cancel();
      if (response.status === 416) {
        // the kept bytes do not fit the file upstream: start again
        await fs.rm(tempPath, { force: true });
        await partials.delete(blobKey);
        throw new RetryableJobError(
          `The server refused the range of ${file.path} from byte ${offset}; downloading it again from the start`,
          0,
        );
      }
      const retryable = response.status === 408 || response.status >= 500;
      const message = `Downloading ${file.path} failed: ${response.status} ${response.statusText}`;
      throw retryable
        ? new RetryableJobError(message)
        : new DownloadVerificationError(message);
    }
    resumedFrom = offset;

    // SHA-256, and the git blob SHA-1 of regular files
    const specs: HashSpec[] = [{ algorithm: 'sha256' }];
    if (!file.lfsSha256) {
      specs.push({ algorithm: 'sha1', prefix: `blob ${file.size}\0` });
    }
    hasher = createBlockHasher(
      specs,
      file.size,
      options.backgroundHashMinBytes,
    );
    if (offset > 0) {
      try {
        await hashPrefix(handle, offset, hasher, signal);
      } catch (error) {
        await response.cancel().catch(() => {});
        throw error;
      }
    }

    let lastReport = 0;
    const report = (bytes: number, force = false) => {
      const now = Date.now();
      if (force || now - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = now;
        options.onBytes?.(bytes);
      }
    };
    report(offset, true);

    // Received chunks are copied into large blocks that are written (past
    // the page cache where possible) and hashed (in a worker thread for
    // large files) while the next ones fill.
    const writer = await SequentialFileWriter.open(tempPath, offset, {
      mode: options.writeMode,
      hasher,
    });
    closeWriter = () => writer.close();
    let received = offset; // bytes hashed and handed to the writer
    let durable = offset;
    const keep = async () => {
      // keep what arrived, for the next attempt
      try {
        await writer.sync();
        await partials.setOffset(blobKey, writer.written);
      } catch {
        // the last checkpoint stands
      }
    };
    const body = response.body;
    if (body) {
      try {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          if (received + chunk.length > file.size) {
            throw new DownloadVerificationError(
              `The upstream sent more than the ${file.size} bytes of ${file.path}`,
            );
          }
          received += chunk.length;
          const wait = writer.write(chunk);
          if (wait) {
            await wait;
          }
          report(received);
          if (writer.written - durable >= checkpointBytes) {
            // The written bytes survive a crash of the process; after a
            // crash of the machine, a resumed file that does not verify is
            // downloaded again from the start.
            durable = writer.written;
            await partials.setOffset(blobKey, durable);
          }
        }
      } catch (error) {
        if (error instanceof DownloadVerificationError) {
          throw error;
        }
        await keep();
        if (signal.aborted) {
          throw error;
        }
        throw new RetryableJobError(
          `The download of ${file.path} broke off at byte ${received}: ${
            (error as Error).message
          }`,
        );
      }
    }
    report(received, true);
    if (received !== file.size) {
      await keep();
      throw new RetryableJobError(
        `The download of ${file.path} ended at byte ${received} of ${file.size}`,
      );
    }
    // every block submitted, so every byte hashed
    await writer.flush();
    const [digest, sha1] = await hasher.digest();
    if (sha1 !== undefined) {
      const actual = sha1;
      if (actual !== file.oid) {
        throw new DownloadVerificationError(
          `git blob sha1 mismatch for ${file.path}: expected ${file.oid}, got ${actual}; the upstream served wrong bytes and nothing was stored`,
        );
      }
    }
    if (file.lfsSha256 && digest !== file.lfsSha256) {
      throw new DownloadVerificationError(
        `sha256 mismatch for ${file.path}: expected sha256 ${file.lfsSha256}, got ${digest}; the upstream served wrong bytes and nothing was stored`,
      );
    }
    // An fsync error fails the download; it is never retried (fsyncgate).
    await writer.sync();
    await closeWriter();
    await closeHandle();
    const blob = await options.artifacts.putFile({
      path: tempPath,
      sha256: digest,
      size: file.size,
    });
    await fs.rm(tempPath, { force: true });
    await partials.delete(blobKey);
    return { ...blob, resumedFrom };
  } catch (error) {
    await closeWriter().catch(() => {});
    await hasher?.close().catch(() => {});
    await closeHandle().catch(() => {});
    if (error instanceof DownloadVerificationError) {
      // wrong bytes: start from scratch next time
      await fs.rm(tempPath, { force: true }).catch(() => {});
      await partials.delete(blobKey).catch(() => {});
      if (resumedFrom > 0) {
        // the kept bytes may be what went wrong (a crash of the machine)
        throw new RetryableJobError(
          `${error.message}; the download had resumed from byte ${resumedFrom}, so it starts again from the beginning`,
          0,
        );
      }
    }
    throw error;
  }
}

/**
 * The parallel path of {@link downloadBlob}: pieces fetched with ranged
 * requests ({@link downloadPieces}), verified against the LFS SHA-256,
 * then handed to the store. Undefined when the upstream ignores ranges.
 */
async function downloadInPieces(
  options: DownloadBlobOptions & {
    parallel: ParallelDownloadOptions;
  },
  sha256: string,
  blobKey: string,
  tempPath: string,
): Promise<(PutBlobResult & { resumedFrom: number }) | undefined> {
  const { file, partials } = options;
  const previous = await partials.get(blobKey);
  // the row marks the temporary file as a download in progress
  await partials.put({
    blobKey,
    url: options.url,
    etag: previous?.etag,
    size: file.size,
    durableOffset: 0,
    tempPath,
    jobId: options.jobId,
  });
  let resumedFrom = 0;
  const discard = async () => {
    await fs.rm(tempPath, { force: true }).catch(() => {});
    await fs.rm(pieceStatePath(tempPath), { force: true }).catch(() => {});
    await partials.delete(blobKey).catch(() => {});
  };
  let lastReport = 0;
  try {
    const result = await downloadPieces({
      size: file.size,
      sha256,
      path: file.path,
      tempPath,
      fetchRange: options.fetchRange,
      connections: options.parallel.connections,
      pieceBytes: options.parallel.pieceBytes,
      signal: options.signal,
      checkpointBytes: options.checkpointBytes,
      log: options.log,
      onBytes: bytes => {
        const now = Date.now();
        if (now - lastReport >= PROGRESS_INTERVAL_MS || bytes === file.size) {
          lastReport = now;
          options.onBytes?.(bytes);
        }
      },
    });
    resumedFrom = result.resumedBytes;
    if (result.sha256 !== sha256) {
      throw new DownloadVerificationError(
        `sha256 mismatch for ${file.path}: expected sha256 ${sha256}, got ${result.sha256}; the upstream served wrong bytes and nothing was stored`,
      );
    }
    const blob = await options.artifacts.putFile({
      path: tempPath,
      sha256,
      size: file.size,
    });
    await discard();
    return { ...blob, resumedFrom };
  } catch (error) {
    if (error instanceof RangesUnsupportedError) {
      await options.log?.(
        `The server ignores ranges for ${file.path}; downloading it in one stream`,
      );
      await discard();
      return undefined;
    }
    if (error instanceof DownloadVerificationError) {
      await discard();
      if (resumedFrom > 0) {
        throw new RetryableJobError(
          `${error.message}; the download had resumed ${resumedFrom} bytes, so it starts again from the beginning`,
          0,
        );
      }
    }
    throw error;
  }
}
