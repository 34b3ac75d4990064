import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';

/** The id of the provider when config has no keyed form. @public */
export const DEFAULT_PROVIDER_ID = 'default';

/** Configuration of one Model Hub entity provider. @public */
export type ModelHubEntityProviderConfig = {
  id: string;
  /** The full refresh: every hub model, replacing what the provider emitted. */
  schedule: SchedulerServiceTaskScheduleDefinition;
  /** The delta poll: models changed or deleted since the last poll. */
  deltaSchedule: SchedulerServiceTaskScheduleDefinition;
  /** Page size of the entity feed. */
  pageSize: number;
};

function readOne(id: string, config?: Config): ModelHubEntityProviderConfig {
  const pageSize = config?.getOptionalNumber('pageSize') ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new Error(
      `catalog.providers.modelHub.pageSize must be an integer from 1 to 1000, got ${pageSize}`,
    );
  }
  return {
    id,
    schedule: config?.has('schedule')
      ? readSchedulerServiceTaskScheduleDefinitionFromConfig(config.getConfig('schedule'))
      : { frequency: { minutes: 30 }, timeout: { minutes: 10 }, initialDelay: { seconds: 15 } },
    deltaSchedule: config?.has('deltaSchedule')
      ? readSchedulerServiceTaskScheduleDefinitionFromConfig(config.getConfig('deltaSchedule'))
      : { frequency: { seconds: 10 }, timeout: { minutes: 1 }, initialDelay: { seconds: 20 } },
    pageSize,
  };
}

/**
 * Reads `catalog.providers.modelHub`: absent or a single provider (id
 * `default`) with `schedule`, `deltaSchedule` and `pageSize`, or keyed
 * providers (`catalog.providers.modelHub.<id>`). `enabled: false` turns the
 * single form off.
 *
 * @public
 */
export function readModelHubEntityProviderConfigs(
  config: Config,
): ModelHubEntityProviderConfig[] {
  const root = config.getOptionalConfig('catalog.providers.modelHub');
  if (!root) {
    return [readOne(DEFAULT_PROVIDER_ID)];
  }
  if (root.getOptionalBoolean('enabled') === false) {
    return [];
  }
  const singleKeys = ['schedule', 'deltaSchedule', 'pageSize', 'enabled'];
  const keys = root.keys();
  if (keys.every(k => singleKeys.includes(k))) {
    return [readOne(DEFAULT_PROVIDER_ID, root)];
  }
  return keys.map(id => readOne(id, root.getConfig(id)));
}
