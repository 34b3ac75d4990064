import { LoggerService } from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { Knex } from 'knex';
import { ModelHubStorageConfig } from '../config';
import { ArtifactStore } from './ArtifactStore';
import { LocalArtifactStore } from './LocalArtifactStore';
import { S3ArtifactStore } from './S3ArtifactStore';
import {
  DEFAULT_MULTIPART_STALE_AFTER_MS,
  S3MultipartRegistry,
} from './S3MultipartRegistry';

/**
 * `modelHub.storage.s3.multipartStaleAfter` in milliseconds: a registered
 * multipart upload whose writer has not renewed it for this long is
 * aborted by the clean-up. Defaults to 2 minutes.
 *
 * @internal
 */
export function readMultipartStaleAfterMs(config: Config): number {
  const s3 = config.getOptionalConfig('modelHub.storage.s3');
  if (!s3?.has('multipartStaleAfter')) {
    return DEFAULT_MULTIPART_STALE_AFTER_MS;
  }
  const ms = durationToMilliseconds(
    readDurationFromConfig(s3, { key: 'multipartStaleAfter' }),
  );
  if (!(ms > 0)) {
    throw new Error(
      'modelHub.storage.s3.multipartStaleAfter must be a positive duration',
    );
  }
  return ms;
}

/** Creates the artifact store that config selects. @internal */
export async function createArtifactStore(
  config: ModelHubStorageConfig,
  options?: {
    /**
     * The upload expiration: clean-up spares younger writes (the local store
     * also those younger than 1 hour).
     */
    uploadExpirationMs?: number;
    /**
     * The S3 store's registry of open multipart uploads, so that the
     * uploads of a killed instance are aborted once stale; the stale ones
     * left by earlier runs are aborted at once, in the background (logged).
     */
    multipartRegistry?: {
      db: Knex;
      staleAfterMs: number;
      logger: LoggerService;
    };
  },
): Promise<ArtifactStore> {
  if (config.type === 's3') {
    const registry = options?.multipartRegistry;
    const store = await S3ArtifactStore.create({
      bucket: config.bucket,
      prefix: config.prefix,
      spoolDir: config.spoolDir,
      partSize: config.partSize,
      uploadExpirationMs: options?.uploadExpirationMs,
      multipartRegistry: registry
        ? new S3MultipartRegistry(registry.db, {
            staleAfterMs: registry.staleAfterMs,
          })
        : undefined,
      client: config.client,
    });
    if (registry) {
      store.abortStaleMultipartUploads().then(
        aborted => {
          if (aborted) {
            registry.logger.info(
              `Aborted ${aborted} S3 multipart uploads of dead writers`,
            );
          }
        },
        error =>
          registry.logger.error(
            'Aborting the S3 multipart uploads of dead writers failed',
            error,
          ),
      );
    }
    return store;
  }
  return LocalArtifactStore.create({
    path: config.path,
    uploadExpirationMs: options?.uploadExpirationMs,
  });
}
