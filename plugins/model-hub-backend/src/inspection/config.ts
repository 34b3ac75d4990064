import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { DEFAULT_INSPECTION_LIMITS, InspectionLimits } from './types';

/**
 * Reads `modelHub.inspection` (worker threads and their limits) over the
 * default inspection limits; throws for impossible settings.
 *
 * @internal
 */
export function readInspectionLimits(config: Config): InspectionLimits {
  const c = config.getOptionalConfig('modelHub.inspection');
  const limits = { ...DEFAULT_INSPECTION_LIMITS };
  if (!c) {
    return limits;
  }
  const workers = c.getOptionalNumber('workers');
  if (workers !== undefined) {
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new Error(
        `modelHub.inspection.workers must be an integer from 1 to 64, got ${workers}`,
      );
    }
    limits.workers = workers;
  }
  const duration = (key: string) => {
    if (!c.has(key)) {
      return undefined;
    }
    const ms = durationToMilliseconds(readDurationFromConfig(c, { key }));
    if (!(ms > 0)) {
      throw new Error(`modelHub.inspection.${key} must be positive`);
    }
    return ms;
  };
  limits.cpuTimeLimitMs = duration('cpuTimeLimit') ?? limits.cpuTimeLimitMs;
  limits.wallTimeLimitMs = duration('timeLimit') ?? limits.wallTimeLimitMs;
  const memory = c.getOptionalNumber('workerMemoryMiB');
  if (memory !== undefined) {
    if (!Number.isInteger(memory) || memory < 64) {
      throw new Error(
        `modelHub.inspection.workerMemoryMiB must be an integer of at least 64, got ${memory}`,
      );
    }
    limits.workerMemoryMiB = memory;
  }
  return limits;
}
