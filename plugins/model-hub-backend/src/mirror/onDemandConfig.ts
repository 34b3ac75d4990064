import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { readHuggingFaceConfig } from '../huggingface/config';
import { HuggingFaceClient } from '../huggingface/HuggingFaceClient';
import { readHubNetwork } from '../huggingface/proxy';
import type { FileFetcher } from '../jobs/downloadExecutor';
import { redactUrl } from '../service/redactUrl';
import type { WriteMode } from '../store/SequentialFileWriter';

/** What the mirror's on-demand fetches need. @internal */
export type OnDemandFetchOptions = {
  fetcher: FileFetcher;
  /** The sync's download folder; the mirror uses its `mirror` subfolder. */
  downloadDir: string;
  writeMode?: WriteMode;
  /** Called for every file stored (e.g. the format inspection). */
  onFileStored?: (
    versionId: string,
    file: { path: string; sha256: string; size: number },
  ) => Promise<unknown>;
};

/**
 * The on-demand fetches of the mirror when `modelHub.huggingface.fetch` is
 * `on-demand`, else undefined: a Hub client of `modelHub.huggingface`
 * (endpoint, token, proxy and CA settings, as the download jobs use), the
 * download folder and the write mode of the downloads.
 *
 * @internal
 */
export function readOnDemandFetch(
  config: Config,
  logger: LoggerService,
): OnDemandFetchOptions | undefined {
  if (config.getOptionalString('modelHub.huggingface.fetch') !== 'on-demand') {
    return undefined;
  }
  const hf = readHuggingFaceConfig(config);
  const client = new HuggingFaceClient({
    endpoint: hf.endpoint,
    token: hf.token,
    network: readHubNetwork(config),
    onRetry: ({ url, status, delayMs }) =>
      logger.info(
        `Hugging Face answered ${status ?? 'a network error'} for ${redactUrl(
          url,
        )}; the mirror's on-demand fetch retries in ${delayMs} ms`,
      ),
  });
  return {
    fetcher: client,
    downloadDir: hf.downloadDir,
    writeMode: hf.writeMode,
  };
}
