import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * No store clean-up removes a temporary file younger than this (1 hour),
 * whatever it is asked and whatever the upload expiration.
 *
 * @internal
 */
export const MIN_TEMP_FILE_AGE_MS = 3_600_000;

/**
 * The default upload expiration (`modelHub.uploads.expiration`): 24 hours.
 *
 * @internal
 */
export const DEFAULT_UPLOAD_EXPIRATION_MS = 24 * 3_600_000;

/**
 * How often a writer renews the modification time of the temporary file it
 * holds (5 minutes): far below {@link MIN_TEMP_FILE_AGE_MS}, so that only a
 * file whose writer is gone (its process dead) gets that old.
 *
 * @internal
 */
export const TEMP_FILE_RENEW_INTERVAL_MS = 5 * 60_000;

/**
 * The cutoff of a clean-up of temporary files asked for those older than
 * `olderThan`: never later than `now` less the larger of
 * {@link MIN_TEMP_FILE_AGE_MS} and the upload expiration, so that the live
 * writes of other instances sharing the folder survive it.
 *
 * @internal
 */
export function tempFileCutoff(
  olderThan: Date,
  options: { minimumAgeMs: number; now?: number },
): Date {
  const now = options.now ?? Date.now();
  return new Date(Math.min(olderThan.getTime(), now - options.minimumAgeMs));
}

/**
 * Holds a temporary file while it is written (or read back to be uploaded):
 * renews its modification time every `intervalMs`, also while the source of
 * the write stalls, so that a clean-up on any instance sharing the folder
 * sees a live file as young. A writer that dies stops renewing, and its file
 * ages out. Call the returned function once the file is gone or complete.
 *
 * @internal
 */
export function holdTempFile(
  path: string,
  intervalMs: number = TEMP_FILE_RENEW_INTERVAL_MS,
): () => void {
  const timer = setInterval(() => {
    const now = new Date();
    // a file already renamed or removed needs no renewal
    fs.utimes(path, now, now).catch(() => {});
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Removes the entries of `dir` last modified before `cutoff`; returns how
 * many it removed.
 *
 * @internal
 */
export async function removeFilesOlderThan(
  dir: string,
  cutoff: Date,
): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir)) {
    const path = join(dir, name);
    const s = await fs.stat(path).catch(() => undefined);
    if (s && s.mtime < cutoff) {
      await fs.rm(path, { force: true, recursive: true });
      removed += 1;
    }
  }
  return removed;
}
