import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { S3ClientConfig } from '@aws-sdk/client-s3';

/** The default folder of the local store, relative to the working directory. */
export const DEFAULT_LOCAL_STORE_PATH = 'data/model-hub/store';

/** @internal */
export type ModelHubStorageConfig =
  | { type: 'local'; path: string }
  | {
      type: 's3';
      bucket: string;
      prefix: string;
      spoolDir: string;
      partSize: number;
      client: S3ClientConfig;
    };

/** @internal */
export type ModelHubConfig = {
  storage: ModelHubStorageConfig;
  upload: { maxFileSizeBytes: number };
  gc: {
    gracePeriodMs: number;
    schedule: SchedulerServiceTaskScheduleDefinition;
  };
};

/**
 * Reads `modelHub` config into a normalised object with defaults applied;
 * throws a descriptive error for impossible settings.
 *
 * @internal
 */
export function readModelHubConfig(
  config: Config,
  options: { cwd?: string } = {},
): ModelHubConfig {
  const cwd = options.cwd ?? process.cwd();
  const hub = config.getOptionalConfig('modelHub');
  const storage = hub?.getOptionalConfig('storage');
  const type = storage?.getOptionalString('type') ?? 'local';

  let storageConfig: ModelHubStorageConfig;
  if (type === 'local') {
    storageConfig = {
      type: 'local',
      path: resolve(
        cwd,
        storage?.getOptionalString('local.path') ?? DEFAULT_LOCAL_STORE_PATH,
      ),
    };
  } else if (type === 's3') {
    const s3 = storage?.getOptionalConfig('s3');
    if (!s3) {
      throw new Error(
        'modelHub.storage.type is s3 but modelHub.storage.s3 is missing; set at least modelHub.storage.s3.bucket',
      );
    }
    const partSizeMiB = s3.getOptionalNumber('partSizeMiB') ?? 8;
    if (partSizeMiB < 5 || partSizeMiB > 5120) {
      throw new Error(
        `modelHub.storage.s3.partSizeMiB must be between 5 and 5120, got ${partSizeMiB}`,
      );
    }
    const checksums = s3.getOptionalString('checksums') ?? 'when_supported';
    if (checksums !== 'when_supported' && checksums !== 'when_required') {
      throw new Error(
        `modelHub.storage.s3.checksums must be when_supported or when_required, got ${checksums}`,
      );
    }
    const credentials = s3.getOptionalConfig('credentials');
    const checksumMode =
      checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    storageConfig = {
      type: 's3',
      bucket: s3.getString('bucket'),
      prefix: s3.getOptionalString('prefix') ?? '',
      spoolDir: resolve(
        cwd,
        s3.getOptionalString('spoolDir') ?? join(tmpdir(), 'model-hub-spool'),
      ),
      partSize: partSizeMiB * 1024 * 1024,
      client: {
        region: s3.getOptionalString('region') ?? 'us-east-1',
        endpoint: s3.getOptionalString('endpoint'),
        forcePathStyle: s3.getOptionalBoolean('forcePathStyle') ?? false,
        requestChecksumCalculation: checksumMode,
        responseChecksumValidation: checksumMode,
        ...(credentials
          ? {
              credentials: {
                accessKeyId: credentials.getString('accessKeyId'),
                secretAccessKey: credentials.getString('secretAccessKey'),
                sessionToken: credentials.getOptionalString('sessionToken'),
              },
            }
          : {}),
      },
    };
  } else {
    throw new Error(`modelHub.storage.type must be local or s3, got '${type}'`);
  }

  const gc = hub?.getOptionalConfig('gc');
  const gracePeriodMs = gc?.has('gracePeriod')
    ? durationToMilliseconds(readDurationFromConfig(gc, { key: 'gracePeriod' }))
    : 3_600_000;
  const schedule = gc?.has('schedule')
    ? readSchedulerServiceTaskScheduleDefinitionFromConfig(
        gc.getConfig('schedule'),
      )
    : {
        frequency: { hours: 6 },
        timeout: { hours: 1 },
        initialDelay: { minutes: 10 },
      };
  const maxFileSizeMiB =
    hub?.getOptionalNumber('upload.maxFileSizeMiB') ?? 100 * 1024;
  if (!(maxFileSizeMiB > 0)) {
    throw new Error(
      `modelHub.upload.maxFileSizeMiB must be positive, got ${maxFileSizeMiB}`,
    );
  }
  return {
    storage: storageConfig,
    upload: { maxFileSizeBytes: Math.floor(maxFileSizeMiB * 1024 * 1024) },
    gc: { gracePeriodMs, schedule },
  };
}

/**
 * A folder next to the local store (same filesystem: finished uploads and
 * imports are renamed into the store, not copied); undefined for S3.
 *
 * @internal
 */
export function besideLocalStore(
  storage: ModelHubStorageConfig,
  name: string,
): string | undefined {
  return storage.type === 'local' ? join(storage.path, '..', name) : undefined;
}

/** The folder of the local store; undefined for S3. @internal */
export function localStorePath(
  storage: ModelHubStorageConfig,
): string | undefined {
  return storage.type === 'local' ? storage.path : undefined;
}
