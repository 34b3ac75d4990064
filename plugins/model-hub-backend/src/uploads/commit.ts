import { ConflictError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { FileKind, HubFile } from '../database/types';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import { moveIntoLocalStore } from '../store/LocalArtifactStore';

/**
 * Adds the rows of a file whose blob is already durable in the store, as
 * `ingestFile` does after its write: a failed insert removes a blob that
 * only this upload created, and a blob garbage collected in between fails
 * the upload with a 409.
 *
 * @internal
 */
export async function commitBlob(options: {
  store: ModelHubStore;
  artifacts: ArtifactStore;
  versionId: string;
  path: string;
  kind: FileKind;
  blob: PutBlobResult;
  createdBy: string;
}): Promise<{ file: HubFile; created: boolean }> {
  const { store, artifacts, blob } = options;
  let result: { file: HubFile; created: boolean };
  try {
    result = await store.addFile({
      versionId: options.versionId,
      path: options.path,
      kind: options.kind,
      blob,
      createdBy: options.createdBy,
    });
  } catch (error) {
    if (blob.created && !(await store.getBlob({ sha256: blob.sha256 }))) {
      await artifacts.delete(blob.sha256);
    }
    throw error;
  }
  if (!(await artifacts.stat(blob.sha256))) {
    if (result.created) {
      await store.removeFile({
        versionId: options.versionId,
        path: options.path,
      });
    }
    throw new ConflictError(
      'The content was garbage collected during the upload; retry the upload',
    );
  }
  return result;
}

/**
 * Moves a complete, fsynced upload file into the local artifact store by
 * `rename` (no second copy of the bytes); see {@link moveIntoLocalStore}.
 * Returns undefined when the file is on another filesystem (`EXDEV`); the
 * caller then streams it through `ArtifactStore.put`.
 *
 * The digest is the one computed while the bytes arrived, of the bytes the
 * upload fsynced; the store names the blob by it as its own `put` does.
 *
 * @internal
 */
export async function adoptIntoLocalStore(options: {
  storeRoot: string;
  file: string;
  sha256: string;
  size: number;
}): Promise<PutBlobResult | undefined> {
  return moveIntoLocalStore(options);
}
