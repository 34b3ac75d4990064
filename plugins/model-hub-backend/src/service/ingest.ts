import { Readable } from 'node:stream';
import { ConflictError } from '@backstage/errors';
import { fileKindOf } from '@model-hub/backstage-plugin-model-hub-common';
import { ModelHubStore } from '../database/ModelHubStore';
import { FileKind, HubFile } from '../database/types';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';

/**
 * What runs once a file is committed to a version (the format inspection
 * into the version's checks). Its failure never undoes the commit.
 *
 * @internal
 */
export type InspectCommitted = (
  versionId: string,
  file: { path: string; sha256: string; size: number },
) => Promise<unknown>;

/**
 * The one way a file enters a version (PUT, multipart, tus, HF downloads,
 * the local scan; ZIP packages commit their files with the new version in
 * the store's `createVersion`): the bytes first, into the content-addressed
 * store, then {@link commitBlob}.
 *
 * @internal
 */
export async function ingestFile(
  options: Omit<CommitFileOptions, 'blob'> & {
    content: Readable;
    expectedSha256?: string;
    expectedSize?: number;
    maxSize?: number;
  },
): Promise<{ file: HubFile; created: boolean }> {
  const blob = await options.artifacts.put(options.content, {
    expectedSha256: options.expectedSha256,
    expectedSize: options.expectedSize,
    maxSize: options.maxSize,
  });
  return commitBlob({ ...options, blob });
}

/** @internal */
export type CommitFileOptions = {
  store: ModelHubStore;
  artifacts: ArtifactStore;
  versionId: string;
  path: string;
  /** Defaults to the kind {@link fileKindOf} gives the path. */
  kind?: FileKind;
  blob: PutBlobResult;
  createdBy: string;
  /** The git blob id an HF file stored in git was verified against. */
  gitOid?: string;
  /** Runs after the commit; its errors go to `onInspectionError`. */
  inspect?: InspectCommitted;
  onInspectionError?: (error: Error) => unknown;
};

/**
 * Commits a file whose blob is already durable in the store: the store's
 * `addFile` locks the version row, refuses a version that is not editable
 * (409), inserts the file and advances the version's revision and content
 * digest in one transaction; then the inspection runs. A failed commit
 * removes a blob that only this call created, and a blob garbage collected
 * in between fails with a 409.
 *
 * @internal
 */
export async function commitBlob(
  options: CommitFileOptions,
): Promise<{ file: HubFile; created: boolean }> {
  const { store, artifacts, blob } = options;
  let result: { file: HubFile; created: boolean };
  try {
    result = await store.addFile({
      versionId: options.versionId,
      path: options.path,
      kind: options.kind ?? fileKindOf(options.path),
      blob,
      createdBy: options.createdBy,
      ...(options.gitOid && { gitOid: options.gitOid }),
    });
  } catch (error) {
    if (blob.created && !(await store.getBlob({ sha256: blob.sha256 }))) {
      await artifacts.delete(blob.sha256);
    }
    throw error;
  }
  // A garbage collection that raced with this upload may have removed the
  // bytes of a long unreferenced blob between the write and addFile.
  if (!(await artifacts.stat(blob.sha256))) {
    if (result.created) {
      await store
        .removeFile({ versionId: options.versionId, path: options.path })
        .catch(() => {});
    }
    throw new ConflictError(
      'The content was garbage collected during the upload; retry the upload',
    );
  }
  if (options.inspect) {
    try {
      const { path, sha256, size } = result.file;
      await options.inspect(options.versionId, { path, sha256, size });
    } catch (error) {
      options.onInspectionError?.(error as Error);
    }
  }
  return result;
}

/**
 * Removes blobs that nothing references any more, blobs without a row
 * (left by a crash between the write and the row insert), and leftovers of
 * interrupted writes, all older than the grace period.
 *
 * @internal
 */
export async function collectGarbage(options: {
  store: ModelHubStore;
  artifacts: ArtifactStore;
  gracePeriodMs: number;
  now?: Date;
}): Promise<{ unreferenced: number; orphans: number; temporary: number }> {
  const { store, artifacts } = options;
  const cutoff = new Date(
    (options.now ?? new Date()).getTime() - options.gracePeriodMs,
  );
  let unreferenced = 0;
  for (;;) {
    const blobs = await store.listUnreferencedBlobs({
      before: cutoff,
      limit: 100,
    });
    let deletedInBatch = 0;
    for (const blob of blobs) {
      const deleted = await store.deleteUnreferencedBlob({
        sha256: blob.sha256,
        before: cutoff,
        fn: () => artifacts.delete(blob.sha256),
      });
      if (deleted) {
        unreferenced += 1;
        deletedInBatch += 1;
      }
    }
    if (blobs.length < 100 || deletedInBatch === 0) {
      break;
    }
  }

  let orphans = 0;
  let batch: { sha256: string; modifiedAt: Date }[] = [];
  const flush = async () => {
    const known = await store.findBlobs({
      sha256s: batch.map(b => b.sha256),
    });
    for (const b of batch) {
      if (!known.has(b.sha256) && b.modifiedAt < cutoff) {
        await artifacts.delete(b.sha256);
        orphans += 1;
      }
    }
    batch = [];
  };
  for await (const info of artifacts.list()) {
    batch.push(info);
    if (batch.length >= 500) {
      await flush();
    }
  }
  await flush();

  const { removed } = await artifacts.cleanup({ olderThan: cutoff });
  return { unreferenced, orphans, temporary: removed };
}
