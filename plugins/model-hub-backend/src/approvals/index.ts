import { DatabaseService, LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { ModelHubStore } from '../database/ModelHubStore';
import {
  DownloadAuthorizer,
  loggedTask,
  ModelHubFeature,
  RouteExtension,
} from '../service/feature';
import { ApprovalsService } from './ApprovalsService';
import { readApprovalsConfig } from './config';
import { DatabaseApprovalsStore } from './DatabaseApprovalsStore';
import { restDownloadAuthorizer } from './downloads';
import { addApprovalRoutes } from './router';

export { ApprovalsService } from './ApprovalsService';
export { assertDownloadAllowed } from './downloads';
export { RELEASED_STATES } from './transitions';

/**
 * Builds the approvals workflow from `modelHub.approvals` config on the
 * plugin's database (whose migrations the hub store has already run).
 *
 * @internal
 */
export async function createApprovals(options: {
  config: Config;
  database: DatabaseService;
  hubStore: ModelHubStore;
  logger: LoggerService;
  notifications?: NotificationService;
}): Promise<ApprovalsService> {
  const store = await DatabaseApprovalsStore.create({
    database: options.database,
    skipMigrations: true,
  });
  return new ApprovalsService({
    store,
    hubStore: options.hubStore,
    config: readApprovalsConfig(options.config),
    logger: options.logger.child({ target: 'approvals' }),
    notifications: options.notifications,
  });
}

/** The approvals workflow as a feature, with its service. @internal */
export type ApprovalsFeature = ModelHubFeature & {
  approvals: ApprovalsService;
  /** Who may download unreleased versions: REST and the mirror alike. */
  downloadAuthorizer: DownloadAuthorizer;
};

/**
 * The routes of the approvals workflow for a router without it: 503.
 *
 * @internal
 */
export const disabledApprovalRoutes: RouteExtension[] = [
  (router, ctx) => addApprovalRoutes(router, ctx),
];

/**
 * The approvals workflow as a feature: its routes, the redelivery of the
 * webhook deliveries a stopped instance left between attempts
 * (`model-hub-webhook-redelivery`, every minute on every instance), and
 * the download policy the core asks.
 *
 * @internal
 */
export async function createApprovalsFeature(
  options: Parameters<typeof createApprovals>[0],
): Promise<ApprovalsFeature> {
  const approvals = await createApprovals(options);
  return {
    id: 'approvals',
    approvals,
    // the workflow's one authorizer, for REST (the mirror takes
    // `approvals.downloads` itself)
    downloadAuthorizer: restDownloadAuthorizer(approvals.downloads),
    routes: [(router, ctx) => addApprovalRoutes(router, ctx, approvals)],
    tasks: [
      {
        id: 'model-hub-webhook-redelivery',
        schedule: {
          frequency: { minutes: 1 },
          timeout: { minutes: 5 },
          initialDelay: { seconds: 30 },
          scope: 'local',
        },
        fn: loggedTask(
          options.logger,
          'Resuming webhook deliveries',
          async () => {
            await approvals.webhooks.resumeStale();
          },
        ),
      },
    ],
  };
}
