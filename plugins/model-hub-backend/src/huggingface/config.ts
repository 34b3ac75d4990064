import { resolve } from 'node:path';
import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { readWriteMode, WriteMode } from '../store/SequentialFileWriter';
import type { ParallelDownloadOptions } from '../jobs/rangedDownload';

/** When artifacts of a synced version are downloaded. @internal */
export type HuggingFaceFetchMode = 'registration' | 'approval' | 'on-demand';

/** @internal */
export type HuggingFaceConfig = {
  endpoint: string;
  token?: string;
  schedule: SchedulerServiceTaskScheduleDefinition;
  include: string[];
  exclude: string[];
  /** Empty: every organization. */
  allowedOrganizations: string[];
  downloadConcurrency: number;
  fetchMode: HuggingFaceFetchMode;
  /** Where partial downloads live until they are verified. */
  downloadDir: string;
  /** How downloads are written (`modelHub.storage.writeMode`). */
  writeMode: WriteMode;
  /** Parallel ranged requests for large files (`parallelDownload`). */
  parallelDownload: ParallelDownloadOptions;
  /** The root of `POST /scan`; scanning is off when unset. */
  scanRoot?: string;
  /** The namespace of models created from the Hub. */
  namespace: string;
  /** What a new upstream commit of a tracked revision leads to (issue 19). */
  onDrift: 'review' | 'notify' | 'ignore';
};

/** @internal */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/**
 * Reads `modelHub.huggingface` (and `modelHub.scan`) with defaults applied;
 * throws a descriptive error for impossible settings.
 *
 * @internal
 */
export function readHuggingFaceConfig(
  config: Config,
  options: { cwd?: string } = {},
): HuggingFaceConfig {
  const cwd = options.cwd ?? process.cwd();
  const hf = config.getOptionalConfig('modelHub.huggingface');
  const endpoint = (
    hf?.getOptionalString('endpoint') ?? DEFAULT_HF_ENDPOINT
  ).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(endpoint)) {
    throw new Error(
      `modelHub.huggingface.endpoint must be an http(s) URL, got '${endpoint}'`,
    );
  }
  const fetchMode = (hf?.getOptionalString('fetch') ??
    'registration') as HuggingFaceFetchMode;
  if (!['registration', 'approval', 'on-demand'].includes(fetchMode)) {
    throw new Error(
      `modelHub.huggingface.fetch must be registration, approval or on-demand, got '${fetchMode}'`,
    );
  }
  const downloadConcurrency = hf?.getOptionalNumber('downloadConcurrency') ?? 2;
  if (!Number.isInteger(downloadConcurrency) || downloadConcurrency < 1) {
    throw new Error(
      `modelHub.huggingface.downloadConcurrency must be a positive integer, got ${downloadConcurrency}`,
    );
  }
  const parallelNumber = (key: string, fallback: number) => {
    const value = hf?.getOptionalNumber(`parallelDownload.${key}`) ?? fallback;
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(
        `modelHub.huggingface.parallelDownload.${key} must be a positive integer, got ${value}`,
      );
    }
    return value;
  };
  const parallelDownload: ParallelDownloadOptions = {
    connections: parallelNumber('connections', 8),
    minBytes: parallelNumber('minSizeMiB', 64) * 1024 * 1024,
    pieceBytes: parallelNumber('pieceSizeMiB', 32) * 1024 * 1024,
  };
  const schedule = hf?.has('schedule')
    ? readSchedulerServiceTaskScheduleDefinitionFromConfig(
        hf.getConfig('schedule'),
      )
    : {
        frequency: { hours: 1 },
        timeout: { minutes: 30 },
        initialDelay: { minutes: 1 },
      };
  const storePath =
    config.getOptionalString('modelHub.storage.local.path') ??
    'data/model-hub/store';
  const scanRoot = config.getOptionalString('modelHub.scan.root');
  const onDrift = hf?.getOptionalString('onDrift') ?? 'review';
  if (onDrift !== 'review' && onDrift !== 'notify' && onDrift !== 'ignore') {
    throw new Error(
      `modelHub.huggingface.onDrift must be review, notify or ignore, got '${onDrift}'`,
    );
  }
  return {
    endpoint,
    token: hf?.getOptionalString('token') || undefined,
    schedule,
    include: hf?.getOptionalStringArray('include') ?? [],
    exclude: hf?.getOptionalStringArray('exclude') ?? [],
    allowedOrganizations: (
      hf?.getOptionalStringArray('allowedOrganizations') ?? []
    ).map(o => o.toLocaleLowerCase('en-US')),
    downloadConcurrency,
    fetchMode,
    writeMode: readWriteMode(config),
    parallelDownload,
    downloadDir: resolve(
      cwd,
      hf?.getOptionalString('downloadDir') ??
        resolve(cwd, storePath, '..', 'hf-downloads'),
    ),
    scanRoot: scanRoot ? resolve(cwd, scanRoot) : undefined,
    namespace: hf?.getOptionalString('namespace') ?? 'default',
    onDrift,
  };
}
