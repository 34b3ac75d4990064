import { PutBlobResult } from '../store/ArtifactStore';
import { moveIntoLocalStore } from '../store/LocalArtifactStore';

export { commitBlob } from '../service/ingest';

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
