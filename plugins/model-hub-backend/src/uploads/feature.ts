import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { Knex } from 'knex';
import { besideLocalStore, localStorePath, ModelHubConfig } from '../config';
import { ModelHubFeature } from '../service/feature';
import { readUploadsConfig } from './config';
import { createUploadRoutes, UploadRoutes } from './routes';

/**
 * Uploads as a feature: tus uploads, multipart uploads and ZIP packages
 * (their folder next to the local store by default, so that finished
 * uploads are renamed into it), and the hourly removal of expired uploads
 * and staging folders on every instance (`model-hub-uploads-cleanup`).
 *
 * @internal
 */
export async function createUploadsFeature(options: {
  config: Config;
  hubConfig: ModelHubConfig;
  db: Knex;
  logger: LoggerService;
}): Promise<ModelHubFeature & { uploads: UploadRoutes }> {
  const { hubConfig, logger } = options;
  const uploads = await createUploadRoutes({
    db: options.db,
    config: readUploadsConfig(options.config, {
      maxFileBytes: hubConfig.upload.maxFileSizeBytes,
      defaultDirectory: besideLocalStore(hubConfig.storage, 'uploads'),
    }),
    localStorePath: localStorePath(hubConfig.storage),
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
