import { createHash, randomUUID } from 'node:crypto';
import {
  constants as fsConstants,
  createReadStream,
  promises as fs,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { InputError, NotFoundError } from '@backstage/errors';
import {
  ArtifactStore,
  BlobInfo,
  checkSize,
  PutBlobOptions,
  PutBlobResult,
  PutFileOptions,
  SHA256_PATTERN,
} from './ArtifactStore';
import {
  DEFAULT_UPLOAD_EXPIRATION_MS,
  holdTempFile,
  MIN_TEMP_FILE_AGE_MS,
  removeFilesOlderThan,
  TEMP_FILE_RENEW_INTERVAL_MS,
  tempFileCutoff,
} from './tempFiles';

const WRITE_CHUNK = 1024 * 1024;

async function syncDir(path: string) {
  const dir = await fs.open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Moves a complete, fsynced file whose content has the given digest into a
 * local store's layout by `rename` (no second copy of the bytes):
 * `<root>/sha256/<aa>/<digest>`, then fsyncs the folder. Content already in
 * the store is kept (dedup, its time touched) and the file removed. Returns
 * undefined when the file is on another filesystem (`EXDEV`) and was left
 * where it is; the caller then copies it (see
 * {@link LocalArtifactStore.putFile}).
 *
 * @internal
 */
export async function moveIntoLocalStore(options: {
  storeRoot: string;
  file: string;
  sha256: string;
  size: number;
}): Promise<PutBlobResult | undefined> {
  const { sha256, size } = options;
  if (!SHA256_PATTERN.test(sha256)) {
    throw new InputError(`Invalid sha256 digest '${sha256}'`);
  }
  const location = `sha256/${sha256.slice(0, 2)}/${sha256}`;
  const dest = join(options.storeRoot, location);
  const existing = await fs.stat(dest).catch(() => undefined);
  if (existing && existing.size === size) {
    // touch, so that a concurrent garbage collection of an orphan spares it
    const now = new Date();
    await fs.utimes(dest, now, now).catch(() => {});
    await fs.rm(options.file, { force: true });
    return { sha256, size, location, created: false };
  }
  await fs.mkdir(dirname(dest), { recursive: true });
  try {
    await fs.rename(options.file, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EXDEV') {
      return undefined;
    }
    throw error;
  }
  await syncDir(dirname(dest));
  return { sha256, size, location, created: true };
}

/**
 * A content-addressed store on the local filesystem.
 *
 * Layout: `<root>/sha256/<aa>/<digest>` for blobs, `<root>/tmp/` for writes
 * in progress. A write goes to a temporary file in the same filesystem while
 * it is hashed, is fsynced, verified, renamed to its digest, and the
 * directory is fsynced: a crash at any point leaves either no blob or the
 * whole blob under its digest, plus possibly a temporary file that
 * {@link LocalArtifactStore.cleanup} removes once it is old enough. Several
 * instances may share the folder: a writer renews its temporary file's
 * modification time while it writes (see `holdTempFile`), and clean-up never
 * removes one younger than the larger of 1 hour and the upload expiration.
 *
 * @internal
 */
export class LocalArtifactStore implements ArtifactStore {
  static async create(options: {
    path: string;
    /**
     * The upload expiration (`modelHub.uploads.expiration`, default 24
     * hours): {@link LocalArtifactStore.cleanup} never removes a temporary
     * file younger than it, nor one younger than 1 hour, whatever it is
     * asked.
     */
    uploadExpirationMs?: number;
    /** How often a writer renews its temporary file; 5 minutes by default. */
    renewIntervalMs?: number;
  }): Promise<LocalArtifactStore> {
    const root = resolve(options.path);
    await fs.mkdir(join(root, 'sha256'), { recursive: true });
    await fs.mkdir(join(root, 'tmp'), { recursive: true });
    return new LocalArtifactStore(
      root,
      Math.max(
        MIN_TEMP_FILE_AGE_MS,
        options.uploadExpirationMs ?? DEFAULT_UPLOAD_EXPIRATION_MS,
      ),
      options.renewIntervalMs ?? TEMP_FILE_RENEW_INTERVAL_MS,
    );
  }

  private constructor(
    private readonly root: string,
    private readonly minimumTempAgeMs: number,
    private readonly renewIntervalMs: number,
  ) {}

  private blobPath(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) {
      throw new InputError(`Invalid sha256 digest '${sha256}'`);
    }
    return join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async put(
    content: Readable,
    options: PutBlobOptions = {},
  ): Promise<PutBlobResult> {
    const tmpPath = join(this.root, 'tmp', `${randomUUID()}.partial`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await fs.open(
      tmpPath,
      fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY,
      0o644,
    );
    const release = holdTempFile(tmpPath, this.renewIntervalMs);
    try {
      try {
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = async () => {
          if (pendingBytes) {
            const buf = Buffer.concat(pending, pendingBytes);
            pending = [];
            pendingBytes = 0;
            await handle.write(buf);
          }
        };
        for await (const chunk of content) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          hash.update(buf);
          size += buf.length;
          checkSize(size, options);
          pending.push(buf);
          pendingBytes += buf.length;
          if (pendingBytes >= WRITE_CHUNK) {
            await flush();
          }
        }
        await flush();
        // An fsync error fails the write; it is never retried (fsyncgate).
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha256 = hash.digest('hex');
      if (options.expectedSize !== undefined && size !== options.expectedSize) {
        throw new InputError(
          `Size mismatch: expected ${options.expectedSize} bytes, got ${size}`,
        );
      }
      if (options.expectedSha256 && options.expectedSha256 !== sha256) {
        throw new InputError(
          `Checksum mismatch: expected sha256 ${options.expectedSha256}, got ${sha256}`,
        );
      }
      const finalPath = this.blobPath(sha256);
      const location = `sha256/${sha256.slice(0, 2)}/${sha256}`;
      const existing = await this.stat(sha256);
      if (existing) {
        await fs.rm(tmpPath, { force: true });
        // touch, so that a concurrent garbage collection of an orphan spares it
        const now = new Date();
        await fs.utimes(finalPath, now, now).catch(() => {});
        return { sha256, size, location, created: false };
      }
      await fs.mkdir(dirname(finalPath), { recursive: true });
      await fs.rename(tmpPath, finalPath);
      await this.syncDir(dirname(finalPath));
      return { sha256, size, location, created: true };
    } catch (error) {
      await fs.rm(tmpPath, { force: true });
      throw error;
    } finally {
      release();
    }
  }

  private async syncDir(path: string) {
    await syncDir(path);
  }

  async putFile(file: PutFileOptions): Promise<PutBlobResult> {
    const { sha256, size } = file;
    this.blobPath(sha256); // validates the digest
    const actual = (await fs.stat(file.path)).size;
    if (actual !== size) {
      throw new InputError(
        `Size mismatch: expected ${size} bytes, got ${actual}`,
      );
    }
    const moved = await moveIntoLocalStore({
      storeRoot: this.root,
      file: file.path,
      sha256,
      size,
    });
    if (moved) {
      return moved;
    }
    // another filesystem: copy through the atomic write, which re-hashes
    const copied = await this.put(
      createReadStream(file.path, { highWaterMark: WRITE_CHUNK }),
      { expectedSha256: sha256, expectedSize: size },
    );
    await fs.rm(file.path, { force: true });
    return copied;
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    try {
      const s = await fs.stat(this.blobPath(sha256));
      return { sha256, size: s.size, modifiedAt: s.mtime };
    } catch (error: any) {
      if (error?.code === 'ENOENT') {
        return undefined;
      }
      throw error;
    }
  }

  async get(
    sha256: string,
    range?: { start: number; end: number },
  ): Promise<Readable> {
    const path = this.blobPath(sha256);
    if (!(await this.stat(sha256))) {
      throw new NotFoundError(`Blob ${sha256} not found`);
    }
    return createReadStream(path, {
      highWaterMark: WRITE_CHUNK,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  async delete(sha256: string): Promise<void> {
    await fs.rm(this.blobPath(sha256), { force: true });
  }

  async *list(): AsyncIterable<BlobInfo> {
    const base = join(this.root, 'sha256');
    for (const prefix of await fs.readdir(base)) {
      const dir = join(base, prefix);
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        if (SHA256_PATTERN.test(name)) {
          const s = await fs.stat(join(dir, name)).catch(() => undefined);
          if (s) {
            yield { sha256: name, size: s.size, modifiedAt: s.mtime };
          }
        }
      }
    }
  }

  /**
   * Removes the temporary files last modified before `olderThan`, and never
   * one younger than the larger of 1 hour and the upload expiration: the
   * live writes of other instances sharing the folder renew theirs.
   */
  async cleanup(options: { olderThan: Date }): Promise<{ removed: number }> {
    const cutoff = tempFileCutoff(options.olderThan, {
      minimumAgeMs: this.minimumTempAgeMs,
    });
    return {
      removed: await removeFilesOlderThan(join(this.root, 'tmp'), cutoff),
    };
  }
}
