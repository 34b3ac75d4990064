import { resolve } from 'node:path';
import { acquirePartialLock } from './partialLock';
import { downloadBlobOnce } from './downloadStream';
import {
  blobKeyOf,
  DownloadBlobOptions,
  DownloadBlobResult,
  partialPathOf,
} from './downloadTypes';

export { blobKeyOf, DownloadVerificationError } from './downloadTypes';
export type {
  DownloadBlobOptions,
  DownloadBlobResult,
  DownloadFile,
} from './downloadTypes';

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
