import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { Knex } from 'knex';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { ModelHubStore } from '../database/ModelHubStore';
import {
  loggedTask,
  ModelHubFeature,
  RouteExtension,
} from '../service/feature';
import { readRetentionConfig } from './config';
import { ModelLifecycleStore } from './ModelLifecycleStore';
import { applyRetention } from './retention';
import { addLifecycleRoutes } from './routes';

/** The delete and edit routes of a router without the lifecycle: 503. @internal */
export const disabledLifecycleRoutes: RouteExtension[] = [
  (router, ctx) => addLifecycleRoutes(router, ctx),
];

/**
 * Deletes, metadata edits and the retention policy as a feature: the
 * routes, and `model-hub-retention` (global) when `modelHub.retention` is
 * configured.
 *
 * @internal
 */
export function createLifecycleFeature(options: {
  config: Config;
  db: Knex;
  store: ModelHubStore;
  approvals: Pick<ApprovalsService, 'transition'>;
  auditor: AuditorService;
  logger: LoggerService;
}): ModelHubFeature & { lifecycle: ModelLifecycleStore } {
  const { logger } = options;
  const lifecycle = new ModelLifecycleStore(options.db);
  const retention = readRetentionConfig(options.config);
  return {
    id: 'lifecycle',
    lifecycle,
    routes: [(router, ctx) => addLifecycleRoutes(router, ctx, lifecycle)],
    tasks: retention
      ? [
          {
            id: 'model-hub-retention',
            schedule: { scope: 'global', ...retention.schedule },
            fn: loggedTask(logger, 'Retention', async () => {
              const result = await applyRetention({
                config: retention,
                lifecycle,
                store: options.store,
                approvals: options.approvals,
                auditor: options.auditor,
                logger,
              });
              logger.info(
                `Retention archived ${result.archived} versions and released ${result.releasedFiles} files (${result.releasedBytes} bytes) of ${result.releasedVersions} archived versions`,
              );
            }),
          },
        ]
      : [],
  };
}
