import { DatabaseService, LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { ModelHubStore } from '../database/ModelHubStore';
import { ApprovalsService } from './ApprovalsService';
import { readApprovalsConfig } from './config';
import { DatabaseApprovalsStore } from './DatabaseApprovalsStore';

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
