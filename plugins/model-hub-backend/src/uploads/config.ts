import { join, resolve } from 'node:path';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { ArchiveOptions, DEFAULT_ARCHIVE_OPTIONS } from '../archive/limits';
import { readInspectionLimits } from '../inspection/config';
import { InspectionLimits } from '../inspection/types';
import { readWriteMode, WriteMode } from '../store/SequentialFileWriter';
import { DEFAULT_LOCK_SETTINGS, UploadLockSettings } from './DatabaseLocker';

/** The default folder of uploads in progress, relative to the working directory. */
export const DEFAULT_UPLOADS_PATH = 'data/model-hub/uploads';

/** Settings of uploads, package imports and inspection. @internal */
export type UploadsConfig = {
  /** Folder of tus uploads in progress (`<dir>/tus`) and staging (`<dir>/staging`). */
  directory: string;
  /**
   * Where tus uploads in progress are kept: `file` (the folder, shared by
   * the instances) or `s3` (the S3 artifact store's bucket, `@tus/s3-store`).
   */
  tusStore?: 'file' | 's3';
  /** Largest file, bytes (`modelHub.upload.maxFileSizeMiB`). */
  maxFileBytes: number;
  /** Unfinished uploads expire this long after creation. */
  expirationMs: number;
  /** Most unfinished uploads per user. */
  maxActiveUploadsPerUser: number;
  /** Bytes between fsyncs (and durable offset updates) within one PATCH. */
  syncIntervalBytes: number;
  /** How uploads are written (`modelHub.storage.writeMode`). */
  writeMode: WriteMode;
  /**
   * The upload locks shared by the instances (`modelHub.uploads.lock`);
   * defaults: `DEFAULT_LOCK_SETTINGS`.
   */
  locks?: Partial<UploadLockSettings>;
  archive: ArchiveOptions;
  inspection: InspectionLimits;
};

const MIB = 1024 * 1024;

function positive(value: number | undefined, key: string): number | undefined {
  if (value !== undefined && !(value > 0)) {
    throw new Error(`modelHub.uploads.${key} must be positive, got ${value}`);
  }
  return value;
}

/**
 * Reads `modelHub.uploads` (and `modelHub.upload.maxFileSizeMiB`) with
 * defaults applied.
 *
 * @internal
 */
export function readUploadsConfig(
  config: Config,
  options: {
    cwd?: string;
    maxFileBytes: number;
    /** Default folder, e.g. next to the local store (same filesystem). */
    defaultDirectory?: string;
  },
): UploadsConfig {
  const cwd = options.cwd ?? process.cwd();
  const c = config.getOptionalConfig('modelHub.uploads');
  const a = c?.getOptionalConfig('archive');
  const nested = a?.getOptionalString('nestedArchives') ?? 'reject';
  if (nested !== 'reject' && nested !== 'store') {
    throw new Error(
      `modelHub.uploads.archive.nestedArchives must be reject or store, got ${nested}`,
    );
  }
  const requiredFiles: Record<string, string[]> = {};
  const rf = a?.getOptionalConfig('requiredFiles');
  for (const key of rf?.keys() ?? []) {
    requiredFiles[key] = rf!.getStringArray(key);
  }
  const mib = (key: string) => {
    const v = positive(a?.getOptionalNumber(key), `archive.${key}`);
    return v === undefined ? undefined : Math.floor(v * MIB);
  };
  const d = DEFAULT_ARCHIVE_OPTIONS;
  const tusStore = c?.getOptionalString('tusStore') ?? 'file';
  if (tusStore !== 'file' && tusStore !== 's3') {
    throw new Error(
      `modelHub.uploads.tusStore must be file or s3, got ${tusStore}`,
    );
  }
  const l = c?.getOptionalConfig('lock');
  const ms = (key: keyof UploadLockSettings, name: string) =>
    l?.has(name)
      ? durationToMilliseconds(readDurationFromConfig(l, { key: name }))
      : DEFAULT_LOCK_SETTINGS[key];
  const locks: UploadLockSettings = {
    leaseMs: ms('leaseMs', 'lease'),
    heartbeatMs: ms('heartbeatMs', 'heartbeat'),
    acquireTimeoutMs: ms('acquireTimeoutMs', 'acquireTimeout'),
  };
  if (!(locks.heartbeatMs > 0 && locks.heartbeatMs * 2 <= locks.leaseMs)) {
    throw new Error(
      `modelHub.uploads.lock.heartbeat must be positive and at most half of lock.lease, got ${locks.heartbeatMs} ms and ${locks.leaseMs} ms`,
    );
  }
  if (!(locks.acquireTimeoutMs > 0)) {
    throw new Error('modelHub.uploads.lock.acquireTimeout must be positive');
  }
  return {
    directory: resolve(
      cwd,
      c?.getOptionalString('directory') ??
        options.defaultDirectory ??
        DEFAULT_UPLOADS_PATH,
    ),
    tusStore,
    maxFileBytes: options.maxFileBytes,
    expirationMs: c?.has('expiration')
      ? durationToMilliseconds(readDurationFromConfig(c, { key: 'expiration' }))
      : 24 * 3_600_000,
    maxActiveUploadsPerUser:
      positive(
        c?.getOptionalNumber('maxActiveUploadsPerUser'),
        'maxActiveUploadsPerUser',
      ) ?? 50,
    syncIntervalBytes: 256 * MIB,
    writeMode: readWriteMode(config),
    locks,
    archive: {
      maxArchiveBytes: mib('maxArchiveSizeMiB') ?? options.maxFileBytes,
      maxEntryBytes: options.maxFileBytes,
      maxTotalBytes: mib('maxTotalSizeMiB') ?? d.maxTotalBytes,
      maxEntries:
        positive(a?.getOptionalNumber('maxEntries'), 'archive.maxEntries') ??
        d.maxEntries,
      maxCompressionRatio:
        positive(
          a?.getOptionalNumber('maxCompressionRatio'),
          'archive.maxCompressionRatio',
        ) ?? d.maxCompressionRatio,
      ratioThresholdBytes: d.ratioThresholdBytes,
      maxExtraFieldBytes: d.maxExtraFieldBytes,
      maxCommentBytes: d.maxCommentBytes,
      nestedArchives: nested,
      requiredFiles,
    },
    inspection: readInspectionLimits(config),
  };
}

/** @internal */
export function tusDirectory(config: UploadsConfig) {
  return join(config.directory, 'tus');
}

/** @internal */
export function stagingDirectory(config: UploadsConfig) {
  return join(config.directory, 'staging');
}
