import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommandInput,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
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
import { S3MultipartRegistry } from './S3MultipartRegistry';
import {
  DEFAULT_UPLOAD_EXPIRATION_MS,
  holdTempFile,
  removeFilesOlderThan,
  tempFileCutoff,
} from './tempFiles';

/** Options of the S3 store. @internal */
export type S3ArtifactStoreOptions = {
  bucket: string;
  /** Key prefix, e.g. `model-hub/`; empty by default. */
  prefix?: string;
  /** Local folder that spools uploads while they are hashed. */
  spoolDir: string;
  /** Part size of multipart uploads; objects larger than this use multipart. */
  partSize?: number;
  /**
   * The upload expiration (`modelHub.uploads.expiration`, default 24 hours):
   * {@link S3ArtifactStore.cleanup} never aborts a multipart upload, nor
   * removes a spool file, younger than this, whatever it is asked, so that
   * the live uploads of other instances survive it.
   */
  uploadExpirationMs?: number;
  /**
   * The database registry of this store's open multipart uploads (shared
   * by the instances): with it, {@link S3ArtifactStore.cleanup} also aborts
   * the uploads of dead writers (heartbeat older than its stale window),
   * whatever their age. Without it, only the age rule applies.
   */
  multipartRegistry?: S3MultipartRegistry;
  client: S3ClientConfig;
};

export { DEFAULT_UPLOAD_EXPIRATION_MS } from './tempFiles';

/** An incomplete multipart upload, as ListMultipartUploads names it. */
type MultipartUpload = { Key?: string; UploadId?: string; Initiated?: Date };

/**
 * The incomplete multipart uploads that clean-up may abort: those of this
 * deployment (a blob key under its prefix, `<prefix>sha256/<aa>/<digest>`;
 * a server that ignores the listing's prefix changes nothing) initiated
 * before `cutoff`.
 *
 * @internal
 */
export function selectAbandonedUploads(
  uploads: MultipartUpload[],
  options: { prefix: string; cutoff: Date },
): { Key: string; UploadId: string }[] {
  return uploads.flatMap(u => {
    if (!u.Key || !u.UploadId || !u.Initiated) {
      return [];
    }
    if (!u.Key.startsWith(`${options.prefix}sha256/`)) {
      return [];
    }
    const [aa, digest, ...rest] = u.Key.slice(
      options.prefix.length + 'sha256/'.length,
    ).split('/');
    if (
      rest.length ||
      !digest ||
      !SHA256_PATTERN.test(digest) ||
      aa !== digest.slice(0, 2)
    ) {
      return [];
    }
    return u.Initiated < options.cutoff
      ? [{ Key: u.Key, UploadId: u.UploadId }]
      : [];
  });
}

/** The largest object CopyObject copies. */
const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;

function isNotFound(error: any): boolean {
  return (
    error?.name === 'NotFound' ||
    error?.name === 'NoSuchKey' ||
    error?.$metadata?.httpStatusCode === 404
  );
}

/**
 * A content-addressed store in S3-compatible object storage, for portals that
 * run several backend instances.
 *
 * An upload is spooled to a local temporary file while it is hashed, so that
 * the object is written once under its final key `<prefix>sha256/<aa>/<digest>`
 * (S3 makes an object visible only when its PUT or multipart upload
 * completes, so readers never see a partial blob). The full-content SHA-256
 * is stored as object metadata; S3 ETags and multipart checksums are not used
 * as content addresses.
 *
 * @internal
 */
export class S3ArtifactStore implements ArtifactStore {
  static async create(
    options: S3ArtifactStoreOptions,
  ): Promise<S3ArtifactStore> {
    await fs.mkdir(options.spoolDir, { recursive: true });
    return new S3ArtifactStore(options, new S3Client(options.client));
  }

  private readonly prefix: string;

  private constructor(
    private readonly options: S3ArtifactStoreOptions,
    private readonly client: S3Client,
  ) {
    this.prefix = options.prefix ?? '';
  }

  private key(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) {
      throw new InputError(`Invalid sha256 digest '${sha256}'`);
    }
    return `${this.prefix}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  async put(
    content: Readable,
    options: PutBlobOptions = {},
  ): Promise<PutBlobResult> {
    const spool = join(this.options.spoolDir, `${randomUUID()}.partial`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await fs.open(spool, 'wx', 0o600);
    // renewed while it is written and uploaded (a clean-up on another
    // instance sharing the spool folder spares it)
    const release = holdTempFile(spool);
    try {
      try {
        for await (const chunk of content) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          hash.update(buf);
          size += buf.length;
          checkSize(size, options);
          await handle.write(buf);
        }
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
      return await this.upload(spool, sha256, size);
    } finally {
      release();
      await fs.rm(spool, { force: true });
    }
  }

  async putFile(file: PutFileOptions): Promise<PutBlobResult> {
    const { sha256, size } = file;
    if (!SHA256_PATTERN.test(sha256)) {
      throw new InputError(`Invalid sha256 digest '${sha256}'`);
    }
    const actual = (await fs.stat(file.path)).size;
    if (actual !== size) {
      throw new InputError(
        `Size mismatch: expected ${size} bytes, got ${actual}`,
      );
    }
    // streamed up from the file itself, no spool copy
    const result = await this.upload(file.path, sha256, size);
    await fs.rm(file.path, { force: true });
    return result;
  }

  /** Uploads a complete local file named by its digest (dedup first). */
  private async upload(
    path: string,
    sha256: string,
    size: number,
  ): Promise<PutBlobResult> {
    const key = this.key(sha256);
    if (await this.stat(sha256)) {
      return {
        sha256,
        size,
        location: `s3://${this.options.bucket}/${key}`,
        created: false,
      };
    }
    await this.write({
      Bucket: this.options.bucket,
      Key: key,
      Body: createReadStream(path, { highWaterMark: 1024 * 1024 }),
      ContentType: 'application/octet-stream',
      Metadata: { sha256 },
    });
    return {
      sha256,
      size,
      location: `s3://${this.options.bucket}/${key}`,
      created: true,
    };
  }

  /**
   * Writes an object: one PUT up to the part size, else a multipart upload
   * (aborted on error), registered while open when the store has a
   * registry.
   */
  private async write(params: PutObjectCommandInput): Promise<void> {
    const tracked = this.options.multipartRegistry?.track(this.client);
    try {
      await new Upload({
        client: tracked?.client ?? this.client,
        partSize: this.options.partSize ?? 8 * 1024 * 1024,
        queueSize: 4,
        leavePartsOnError: false,
        params,
      }).done();
    } finally {
      tracked?.close();
    }
  }

  /**
   * Moves an object of this bucket whose content the caller has verified
   * to be `sha256` (a finished tus upload) to the blob's key: a server-side
   * copy up to 5 GiB (CopyObject's limit), else read and written again over
   * this store's connection; then removes the source. Dedup first.
   */
  async adoptObject(source: {
    key: string;
    sha256: string;
    size: number;
  }): Promise<PutBlobResult> {
    const { sha256, size } = source;
    const key = this.key(sha256);
    const Bucket = this.options.bucket;
    const existing = await this.stat(sha256);
    if (!existing) {
      if (size <= MAX_COPY_OBJECT_BYTES) {
        await this.client.send(
          new CopyObjectCommand({
            Bucket,
            Key: key,
            CopySource: `${Bucket}/${source.key
              .split('/')
              .map(encodeURIComponent)
              .join('/')}`,
            MetadataDirective: 'REPLACE',
            ContentType: 'application/octet-stream',
            Metadata: { sha256 },
          }),
        );
      } else {
        const read = await this.client.send(
          new GetObjectCommand({ Bucket, Key: source.key }),
        );
        await this.write({
          Bucket,
          Key: key,
          Body: read.Body as Readable,
          ContentType: 'application/octet-stream',
          Metadata: { sha256 },
        });
      }
      const copied = await this.stat(sha256);
      if (copied?.size !== size) {
        throw new Error(
          `Copy of ${source.key} to ${key} has ${copied?.size} bytes, expected ${size}`,
        );
      }
    }
    await this.client.send(
      new DeleteObjectCommand({ Bucket, Key: source.key }),
    );
    return {
      sha256,
      size,
      location: `s3://${Bucket}/${key}`,
      created: !existing,
    };
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.options.bucket,
          Key: this.key(sha256),
        }),
      );
      return {
        sha256,
        size: Number(head.ContentLength ?? 0),
        modifiedAt: head.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (isNotFound(error)) {
        return undefined;
      }
      throw error;
    }
  }

  async get(
    sha256: string,
    range?: { start: number; end: number },
  ): Promise<Readable> {
    const key = this.key(sha256);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return res.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) {
        throw new NotFoundError(`Blob ${sha256} not found`);
      }
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({
        Bucket: this.options.bucket,
        Key: this.key(sha256),
      }),
    );
  }

  async *list(): AsyncIterable<BlobInfo> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: `${this.prefix}sha256/`,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const name = object.Key?.split('/').pop() ?? '';
        if (SHA256_PATTERN.test(name)) {
          yield {
            sha256: name,
            size: Number(object.Size ?? 0),
            modifiedAt: object.LastModified ?? new Date(0),
          };
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Aborts the registered multipart uploads of dead writers (heartbeat
   * older than the registry's stale window, whatever their age); returns
   * how many. Safe at any time, at boot too: live writers renew theirs.
   */
  async abortStaleMultipartUploads(): Promise<number> {
    return (await this.options.multipartRegistry?.abortStale(this.client)) ?? 0;
  }

  /**
   * Aborts the registered multipart uploads of dead writers
   * ({@link S3ArtifactStore.abortStaleMultipartUploads}); then removes spool
   * files last written, and aborts this deployment's incomplete multipart
   * uploads initiated, before `olderThan`, and never before the upload
   * expiration: several instances share the bucket (and maybe the spool
   * folder), and the uploads of the others are live. The age rule is the
   * safety net for unregistered uploads (their registration failed, or a
   * registry is not configured), on servers that implement
   * ListMultipartUploads.
   */
  async cleanup(options: { olderThan: Date }): Promise<{ removed: number }> {
    let failure: unknown;
    let stale = 0;
    try {
      stale = await this.abortStaleMultipartUploads();
    } catch (error) {
      failure = error;
    }
    const expiration =
      this.options.uploadExpirationMs ?? DEFAULT_UPLOAD_EXPIRATION_MS;
    const cutoff = tempFileCutoff(options.olderThan, {
      minimumAgeMs: expiration,
    });
    let removed =
      stale + (await removeFilesOlderThan(this.options.spoolDir, cutoff));
    // Incomplete multipart uploads of crashed instances. A bucket lifecycle
    // rule (AbortIncompleteMultipartUpload) is the recommended safety net;
    // servers that do not implement the listing are skipped.
    try {
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.options.bucket,
            Prefix: `${this.prefix}sha256/`,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
        for (const upload of selectAbandonedUploads(page.Uploads ?? [], {
          prefix: this.prefix,
          cutoff,
        })) {
          await this.client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.options.bucket,
              ...upload,
            }),
          );
          removed += 1;
        }
        const more = page.IsTruncated && page.NextKeyMarker;
        keyMarker = more ? page.NextKeyMarker : undefined;
        uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (error: any) {
      if (error?.name !== 'NotImplemented') {
        throw error;
      }
    }
    if (failure) {
      throw failure;
    }
    return { removed };
  }
}
