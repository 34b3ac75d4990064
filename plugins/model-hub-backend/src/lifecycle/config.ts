import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';

/** `modelHub.retention`. @internal */
export type RetentionConfig = {
  /** Deprecated versions kept per model (newest first); older ones archived. */
  keepDeprecated?: number;
  /** Deprecated versions older than this are archived. */
  archiveAfterMs?: number;
  /** Whether the files of archived versions are removed (blobs released). */
  releaseArchivedFiles: boolean;
  schedule: SchedulerServiceTaskScheduleDefinition;
};

/**
 * Reads `modelHub.retention`; undefined when no policy is configured (then
 * nothing is archived or released automatically).
 *
 * @internal
 */
export function readRetentionConfig(
  config: Config,
): RetentionConfig | undefined {
  const c = config.getOptionalConfig('modelHub.retention');
  if (!c) {
    return undefined;
  }
  const keepDeprecated = c.getOptionalNumber('keepDeprecated');
  if (
    keepDeprecated !== undefined &&
    !(Number.isInteger(keepDeprecated) && keepDeprecated >= 0)
  ) {
    throw new Error(
      `modelHub.retention.keepDeprecated must be a whole number of 0 or more, got ${keepDeprecated}`,
    );
  }
  const archiveAfterMs = c.has('archiveAfter')
    ? durationToMilliseconds(readDurationFromConfig(c, { key: 'archiveAfter' }))
    : undefined;
  if (archiveAfterMs !== undefined && !(archiveAfterMs > 0)) {
    throw new Error('modelHub.retention.archiveAfter must be positive');
  }
  return {
    keepDeprecated,
    archiveAfterMs,
    releaseArchivedFiles: c.getOptionalBoolean('releaseArchivedFiles') ?? true,
    schedule: c.has('schedule')
      ? readSchedulerServiceTaskScheduleDefinitionFromConfig(
          c.getConfig('schedule'),
        )
      : {
          frequency: { hours: 24 },
          timeout: { hours: 1 },
          initialDelay: { minutes: 15 },
        },
  };
}
