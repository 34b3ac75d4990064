import { InputError } from '@backstage/errors';
import { Readable } from 'node:stream';

/** The result of putting a blob into the store. @internal */
export type PutBlobResult = {
  sha256: string;
  size: number;
  /** Where the store keeps the blob, for operators (a path or object key). */
  location: string;
  /** False when the store held the content already (dedup). */
  created: boolean;
};

/** @internal */
export type PutBlobOptions = {
  expectedSha256?: string;
  expectedSize?: number;
  maxSize?: number;
};

/** A verified local file to move into the store. @internal */
export type PutFileOptions = {
  /** Path of the file; it is moved (or copied and removed). */
  path: string;
  /** SHA-256 of its content, computed by the caller. */
  sha256: string;
  size: number;
};

/** @internal */
export type BlobInfo = { sha256: string; size: number; modifiedAt: Date };

/**
 * A content-addressed store of blobs, named by the SHA-256 of their content.
 * A blob is visible under its digest only once all of its bytes are durable.
 *
 * @internal
 */
export interface ArtifactStore {
  /**
   * Stores the content of a stream. When `expectedSha256` or `expectedSize`
   * are given and do not match, nothing is stored and an `InputError` is
   * thrown; so it is, and the write stops, when the content grows beyond
   * `maxSize`.
   */
  put(content: Readable, options?: PutBlobOptions): Promise<PutBlobResult>;
  /**
   * Moves a complete local file whose content the caller has already
   * verified to be `sha256` and fsynced into the store, without a second
   * copy of the bytes where the store allows (the local store renames it
   * within one filesystem). The file is gone on success (also when the store
   * held the content already); on failure it is left to the caller. A file
   * whose size is not `size` is refused with an `InputError`.
   */
  putFile(file: PutFileOptions): Promise<PutBlobResult>;
  /** Information on a blob, or undefined when it is not in the store. */
  stat(sha256: string): Promise<BlobInfo | undefined>;
  /** Reads a blob, or the inclusive byte range `start`-`end` of it. */
  get(
    sha256: string,
    range?: { start: number; end: number },
  ): Promise<Readable>;
  /** Deletes a blob; deleting a missing blob is not an error. */
  delete(sha256: string): Promise<void>;
  /** Lists every blob of the store. */
  list(): AsyncIterable<BlobInfo>;
  /**
   * Removes leftovers of interrupted writes (temporary files, incomplete
   * multipart uploads) older than `olderThan`.
   */
  cleanup(options: { olderThan: Date }): Promise<{ removed: number }>;
}

/** A valid lower-case hex SHA-256 digest. @internal */
export const SHA256_PATTERN = /^[a-f0-9]{64}$/;

/** Checks the running size of a write against its limits. @internal */
export function checkSize(size: number, options: PutBlobOptions) {
  if (options.maxSize !== undefined && size > options.maxSize) {
    throw new InputError(
      `Content is larger than the limit of ${options.maxSize} bytes`,
    );
  }
  if (options.expectedSize !== undefined && size > options.expectedSize) {
    throw new InputError(
      `Content is larger than the expected ${options.expectedSize} bytes`,
    );
  }
}
