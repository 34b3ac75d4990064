import { Knex } from 'knex';
import { ArtifactStore } from '../store/ArtifactStore';
import { InspectionLimits } from './types';
import {
  inspectBlobIntoChecks,
  VersionChecksStore,
} from './VersionChecksStore';

/** A stored file of a version. @internal */
export type StoredFile = { path: string; sha256: string; size: number };

/**
 * The format inspection of stored files (safetensors, GGUF, ONNX, pickle,
 * …) as a core service: every way a file enters a version (PUT, uploads,
 * Hugging Face downloads, on-demand mirror fetches, the local scan) records
 * its checks on the version through it, and a removed file's checks are
 * forgotten.
 *
 * @internal
 */
export type FileInspection = {
  inspectStoredFile(
    versionId: string,
    file: StoredFile,
    artifacts: ArtifactStore,
  ): Promise<unknown>;
  forgetFile(versionId: string, path: string): Promise<unknown>;
};

/** The inspection on the plugin's database (`version_checks`). @internal */
export function createFileInspection(options: {
  db: Knex;
  limits: InspectionLimits;
}): FileInspection {
  const checks = new VersionChecksStore(options.db);
  return {
    inspectStoredFile: (versionId, file, artifacts) =>
      inspectBlobIntoChecks({
        checks,
        artifacts,
        limits: options.limits,
        versionId,
        path: file.path,
        sha256: file.sha256,
        size: file.size,
      }),
    forgetFile: (versionId, path) => checks.forgetFile(versionId, path),
  };
}
