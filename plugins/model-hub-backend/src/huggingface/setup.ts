import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  DatabaseService,
  LifecycleService,
  LoggerService,
  RootConfigService,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import { SignalsService } from '@backstage/plugin-signals-node';
import { Router } from 'express';
import { ModelHubStore } from '../database/ModelHubStore';
import { createDownloadExecutor } from '../jobs/downloadExecutor';
import { JobQueue } from '../jobs/JobQueue';
import { JobExecutor, JobWorker, RetryableJobError } from '../jobs/JobWorker';
import { PartialDownloadStore } from '../jobs/PartialDownloadStore';
import { addScanRoutes } from '../scan/routes';
import { RouteContext } from '../service/context';
import { ArtifactStore } from '../store/ArtifactStore';
import { readHuggingFaceConfig } from './config';
import { addEntityFeedRoutes } from './entityFeed';
import { readHubNetwork } from './proxy';
import { HuggingFaceClient } from './HuggingFaceClient';
import { HuggingFaceStore } from './HuggingFaceStore';
import {
  HF_DOWNLOAD_JOB,
  HF_SYNC_JOB,
  HuggingFaceSync,
} from './HuggingFaceSync';
import { addHuggingFaceRoutes } from './routes';
import { redactUrl } from '../service/redactUrl';

/** Adds routes to the Model Hub router. @internal */
export type RouteExtension = (router: Router, ctx: RouteContext) => void;

/** The routes {@link setupHuggingFace} adds. @internal */
export const HUGGINGFACE_ROUTES = [
  ['post', '/huggingface/repos'],
  ['get', '/huggingface/repos'],
  ['get', '/huggingface/repos/:org/:name'],
  ['delete', '/huggingface/repos/:org/:name'],
  ['get', '/huggingface/preview/:org/:name'],
  ['post', '/huggingface/repos/:org/:name/download'],
  ['get', '/entity-feed'],
  ['post', '/scan'],
] as const;

/**
 * The same routes, answering 503, for a router without the Hugging Face
 * sync (tests of the core routes), so that the route table never changes.
 *
 * @internal
 */
export const disabledHuggingFaceRoutes: RouteExtension[] = [
  router => {
    for (const [method, path] of HUGGINGFACE_ROUTES) {
      router[method](path, () => {
        throw new ServiceUnavailableError(
          'The Hugging Face sync is not set up',
        );
      });
    }
  },
];

/**
 * Wires the Hugging Face sync into the plugin: the job workers (sync and
 * downloads), the scheduled sync task (`huggingface-sync`, global scope:
 * one run per interval across all instances), and the routes of
 * registration, downloads, the entity feed and the local scan.
 *
 * @internal
 */
export async function setupHuggingFace(deps: {
  config: RootConfigService;
  logger: LoggerService;
  database: DatabaseService;
  scheduler: SchedulerService;
  lifecycle: LifecycleService;
  signals?: SignalsService;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  /** Called for every file a download job stores (format inspection). */
  onFileStored?: (
    versionId: string,
    file: { path: string; sha256: string; size: number },
  ) => Promise<unknown>;
}): Promise<{ routes: RouteExtension[]; sync: HuggingFaceSync }> {
  const logger = deps.logger.child({ target: 'huggingface' });
  const config = readHuggingFaceConfig(deps.config);
  const knex = await deps.database.getClient();
  const queue = new JobQueue(
    knex,
    `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
  );
  const client = new HuggingFaceClient({
    endpoint: config.endpoint,
    token: config.token,
    network: readHubNetwork(deps.config),
    onRetry: ({ url, status, delayMs }) =>
      logger.info(
        `Hugging Face answered ${status ?? 'a network error'} for ${redactUrl(
          url,
        )}; retrying in ${delayMs} ms`,
      ),
  });
  const hfStore = new HuggingFaceStore(knex);
  const workers: JobWorker[] = [];
  const sync = new HuggingFaceSync({
    client,
    hfStore,
    store: deps.store,
    queue,
    config,
    logger,
    onEnqueue: () => workers.forEach(w => w.poke()),
  });

  const syncExecutor: JobExecutor = async ctx => {
    const params = ctx.job.params as { repo?: string; revision?: string };
    if (!params.repo) {
      throw new Error('A sync job needs a repo');
    }
    const result = await sync.syncRepo({
      repoId: params.repo,
      revision: params.revision,
      modelId: ctx.job.modelId,
      signal: ctx.signal,
      log: message => ctx.log('info', message),
    });
    ctx.progress(result);
  };
  workers.push(
    new JobWorker({
      queue,
      logger,
      executors: { [HF_SYNC_JOB]: syncExecutor },
      concurrency: 2,
      signals: deps.signals,
    }),
    new JobWorker({
      queue,
      logger,
      executors: {
        [HF_DOWNLOAD_JOB]: createDownloadExecutor({
          fetcher: client,
          store: deps.store,
          artifacts: deps.artifacts,
          partials: new PartialDownloadStore(knex),
          downloadDir: config.downloadDir,
          writeMode: config.writeMode,
          parallel: config.parallelDownload,
          onFileStored: deps.onFileStored,
        }),
      },
      concurrency: config.downloadConcurrency,
      signals: deps.signals,
    }),
  );
  deps.lifecycle.addStartupHook(() => workers.forEach(w => w.start()));
  deps.lifecycle.addShutdownHook(async () => {
    await Promise.all(workers.map(w => w.stop()));
  });

  await deps.scheduler.scheduleTask({
    id: 'huggingface-sync',
    scope: 'global',
    ...config.schedule,
    fn: async signal => {
      try {
        const result = await sync.runScheduled({ signal, logger });
        logger.info(
          `Hugging Face sync: ${result.synced} synced, ${result.checked} checked, ${result.drifted} with upstream drift, ${result.failed} failed`,
        );
      } catch (error) {
        if (!(error instanceof RetryableJobError)) {
          logger.error('Hugging Face sync failed', error as Error);
        }
      }
    },
  });

  return {
    sync,
    routes: [
      (router, ctx) =>
        addHuggingFaceRoutes(router, ctx, { sync, hfStore, client }),
      (router, ctx) => addEntityFeedRoutes(router, ctx, knex),
      (router, ctx) =>
        addScanRoutes(router, ctx, {
          root: config.scanRoot,
          namespace: config.namespace,
        }),
    ],
  };
}
