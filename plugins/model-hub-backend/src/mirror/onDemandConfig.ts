import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { readHuggingFaceConfig } from '../huggingface/config';
import { HuggingFaceClient } from '../huggingface/HuggingFaceClient';
import { readHubNetwork } from '../huggingface/proxy';
import type { FileFetcher } from '../jobs/types';
import { redactUrl } from '../service/redactUrl';
import type { WriteMode } from '../store/SequentialFileWriter';

/** What the mirror's on-demand fetches need. @internal */
export type OnDemandFetchOptions = {
  /**
   * The client of files whose model has no source of its own (and of every
   * file when `fetcherOf` is not given).
   */
  fetcher?: FileFetcher;
  /**
   * The client of the model source (issue 22) a model's files come from:
   * its endpoint, token and network settings. Takes precedence over
   * `fetcher`.
   */
  fetcherOf?: (target: { modelId?: string }) => Promise<FileFetcher>;
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
 * The Hub clients of the model sources, as the Hugging Face setup resolves
 * them (`SourceRegistry`): the source of a model's repo, else the model's,
 * else the default one; each with its endpoint, token and proxy settings.
 *
 * @internal
 */
export type MirrorHubSources = {
  hubOfJob(modelId: string | undefined): Promise<{ client: FileFetcher }>;
  /** The default Hub source (the first one of the config). */
  defaultHubSource(): { name: string } | undefined;
};

/**
 * The on-demand fetches of the mirror when `modelHub.huggingface.fetch` is
 * `on-demand`, else undefined: the download folder and the write mode of
 * the downloads, and the Hub client of each file. With the model sources
 * (`sources`, the registry of the Hugging Face setup) a file is fetched
 * through the client of its model's source, as the download jobs fetch
 * it; without them through a client of `modelHub.huggingface` (endpoint,
 * token, proxy and CA settings).
 *
 * @internal
 */
export function readOnDemandFetch(
  config: Config,
  logger: LoggerService,
  sources?: MirrorHubSources,
): OnDemandFetchOptions | undefined {
  if (config.getOptionalString('modelHub.huggingface.fetch') !== 'on-demand') {
    return undefined;
  }
  const hf = readHuggingFaceConfig(config);
  if (sources) {
    return {
      fetcherOf: async ({ modelId }) =>
        (await sources.hubOfJob(modelId)).client,
      downloadDir: hf.downloadDir,
      writeMode: hf.writeMode,
    };
  }
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
