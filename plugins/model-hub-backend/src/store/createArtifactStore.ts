import { ModelHubStorageConfig } from '../config';
import { ArtifactStore } from './ArtifactStore';
import { LocalArtifactStore } from './LocalArtifactStore';
import { S3ArtifactStore } from './S3ArtifactStore';

/** Creates the artifact store that config selects. @internal */
export async function createArtifactStore(
  config: ModelHubStorageConfig,
  options?: {
    /**
     * The upload expiration: clean-up spares younger writes (the local store
     * also those younger than 1 hour).
     */
    uploadExpirationMs?: number;
  },
): Promise<ArtifactStore> {
  if (config.type === 's3') {
    return S3ArtifactStore.create({
      bucket: config.bucket,
      prefix: config.prefix,
      spoolDir: config.spoolDir,
      partSize: config.partSize,
      uploadExpirationMs: options?.uploadExpirationMs,
      client: config.client,
    });
  }
  return LocalArtifactStore.create({
    path: config.path,
    uploadExpirationMs: options?.uploadExpirationMs,
  });
}
