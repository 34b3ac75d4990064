import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';

function durationMs(d: ReturnType<typeof readDurationFromConfig>): number {
  return (
    (d.years ?? 0) * 365 * 86_400_000 +
    (d.months ?? 0) * 30 * 86_400_000 +
    (d.weeks ?? 0) * 7 * 86_400_000 +
    (d.days ?? 0) * 86_400_000 +
    (d.hours ?? 0) * 3_600_000 +
    (d.minutes ?? 0) * 60_000 +
    (d.seconds ?? 0) * 1000 +
    (d.milliseconds ?? 0)
  );
}

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
    ? durationMs(readDurationFromConfig(c, { key: 'archiveAfter' }))
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
