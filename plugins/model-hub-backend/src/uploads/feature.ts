import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { Knex } from 'knex';
import { besideLocalStore, localStorePath, ModelHubConfig } from '../config';
import { ModelHubFeature } from '../service/feature';
import { readUploadsConfig, UploadsConfig } from './config';
import { createUploadRoutes, UploadRoutes } from './routes';

/**
 * Reads `modelHub.uploads` for the plugin: the folder of uploads in
 * progress defaults to one next to the local store (same filesystem:
 * finished uploads are renamed into it, not copied).
 *
 * @internal
 */
export function readPluginUploadsConfig(
  config: Config,
  hubConfig: ModelHubConfig,
): UploadsConfig {
  return readUploadsConfig(config, {
    maxFileBytes: hubConfig.upload.maxFileSizeBytes,
    defaultDirectory: besideLocalStore(hubConfig.storage, 'uploads'),
  });
}

/**
 * Uploads as a feature: tus uploads, multipart uploads and ZIP packages,
 * and the hourly removal of expired uploads and staging folders on every
 * instance (`model-hub-uploads-cleanup`).
 *
 * @internal
 */
export async function createUploadsFeature(options: {
  config: UploadsConfig;
  hubConfig: ModelHubConfig;
  db: Knex;
  logger: LoggerService;
}): Promise<ModelHubFeature & { uploads: UploadRoutes }> {
  const { logger } = options;
  const uploads = await createUploadRoutes({
    db: options.db,
    config: options.config,
    localStorePath: localStorePath(options.hubConfig.storage),
    s3: s3Of(options.hubConfig.storage),
  });
  return {
    id: 'uploads',
    uploads,
    routes: [uploads.routes],
    tasks: [
      {
        id: 'model-hub-uploads-cleanup',
        schedule: {
          frequency: { hours: 1 },
          timeout: { minutes: 15 },
          initialDelay: { minutes: 5 },
          scope: 'local',
        },
        fn: async () => {
          const cleaned = await uploads.cleanup();
          logger.info(
            `Removed ${cleaned.removed} expired uploads and staging folders`,
          );
        },
      },
    ],
  };
}

/** The S3 store's bucket and client, where tus uploads may be kept. */
function s3Of(storage: ModelHubConfig['storage']) {
  return storage.type === 's3'
    ? {
        bucket: storage.bucket,
        client: storage.client,
        partSize: storage.partSize,
      }
    : undefined;
}
