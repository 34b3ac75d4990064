import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConflictError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { FileKind, HubFile } from '../database/types';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';

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
 * `rename` (no second copy of the bytes): `<root>/sha256/<aa>/<digest>`, the
 * layout documented for the local store, then fsyncs the folder. Content
 * that is already in the store is kept (dedup) and the upload file removed.
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
  const { sha256, size } = options;
  const location = `sha256/${sha256.slice(0, 2)}/${sha256}`;
  const dest = join(options.storeRoot, location);
  const existing = await fs.stat(dest).catch(() => undefined);
  if (existing && existing.size === size) {
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
  const dir = await fs.open(dirname(dest), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { sha256, size, location, created: true };
}
