import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';

/** `modelHub.catalogSync`. @internal */
export type CatalogSyncConfig = {
  enabled: boolean;
  schedule: SchedulerServiceTaskScheduleDefinition;
};

/** Reads `modelHub.catalogSync` with its defaults. @internal */
export function readCatalogSyncConfig(config: Config): CatalogSyncConfig {
  const c = config.getOptionalConfig('modelHub.catalogSync');
  return {
    enabled: c?.getOptionalBoolean('enabled') ?? true,
    schedule: c?.has('schedule')
      ? readSchedulerServiceTaskScheduleDefinitionFromConfig(
          c.getConfig('schedule'),
        )
      : {
          frequency: { minutes: 5 },
          timeout: { minutes: 10 },
          initialDelay: { seconds: 15 },
        },
  };
}
