import { createHash } from 'node:crypto';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { ERRORS, Upload } from '@tus/server';
import { S3Store } from '@tus/s3-store';
import { UploadSessionsStore } from './UploadSessionsStore';

/**
 * The tus store of uploads in progress when the artifact store is S3
 * (`modelHub.uploads.tusStore: s3`): `@tus/s3-store`, in the store's
 * bucket. Each PATCH becomes parts of a multipart upload keyed by the
 * upload id (`<id>`, `<id>.info`, and `<id>.part` for a tail shorter than
 * a part), so any instance serves any request with no shared folder; the
 * upload's lock is the database's (`DatabaseLocker`).
 *
 * The SHA-256 is computed once the upload is complete, by reading the
 * object back; the finish then copies it to its content-addressed key
 * (`S3ArtifactStore.adoptObject`). The binding of the upload (and its
 * authorization) stays in `upload_sessions`.
 *
 * @internal
 */
export class S3UploadStore extends S3Store {
  constructor(
    private readonly opts: {
      bucket: string;
      client: S3ClientConfig;
      /** Preferred part size; S3 needs at least 5 MiB but for the last. */
      partSize: number;
      expirationMs: number;
      sessions: UploadSessionsStore;
    },
  ) {
    super({
      s3ClientConfig: { ...opts.client, bucket: opts.bucket },
      partSize: Math.max(opts.partSize, 5 * 1024 * 1024),
      expirationPeriodInMilliseconds: opts.expirationMs,
      // expiry is ours (upload_sessions and the clean-up task)
      useTags: false,
    });
  }

  /** Creates the upload, then records its session (bound by the creation hook). */
  override async create(upload: Upload): Promise<Upload> {
    const created = await super.create(upload);
    try {
      await this.opts.sessions.set(upload.id, created);
    } catch (error) {
      await this.remove(upload.id).catch(() => {});
      throw error;
    }
    return created;
  }

  /**
   * Termination: the multipart upload and the upload's objects (also the
   * tail shorter than a part, which `S3Store.remove` leaves), then its
   * session.
   */
  override async remove(id: string): Promise<void> {
    await super.remove(id);
    await this.client.deleteObject({
      Bucket: this.bucket,
      Key: `${id}.part`,
    });
    await this.opts.sessions.delete(id);
  }

  /** The SHA-256 of a complete upload, read back from the bucket. */
  async digest(id: string, size: number): Promise<string> {
    const hash = createHash('sha256');
    let read = 0;
    for await (const chunk of await this.read(id)) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
    }
    if (read !== size) {
      throw ERRORS.FILE_WRITE_ERROR;
    }
    return hash.digest('hex');
  }

  /**
   * Removes an upload's objects (and its multipart upload) and row,
   * ignoring what is already gone.
   */
  async discard(id: string): Promise<void> {
    try {
      await this.remove(id);
    } catch {
      // finished (no multipart upload left) or never created
    }
    await this.client
      .deleteObjects({
        Bucket: this.bucket,
        Delete: {
          Objects: [{ Key: id }, { Key: `${id}.info` }, { Key: `${id}.part` }],
        },
      })
      .catch(() => {});
    await this.clearCache(id);
    await this.opts.sessions.delete(id);
  }
}
