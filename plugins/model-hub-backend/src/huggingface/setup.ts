import { join } from 'node:path';
import {
  DatabaseService,
  LifecycleService,
  LoggerService,
  RootConfigService,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import type { AuditorService } from '@backstage/backend-plugin-api';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { DriftReview } from './driftReview';
import { SignalsService } from '@backstage/plugin-signals-node';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { ModelHubStore } from '../database/ModelHubStore';
import { createDownloadExecutor } from './downloadExecutor';
import { JobRunner } from '../jobs/JobRunner';
import { JobExecutor, RetryableJobError } from '../jobs/JobWorker';
import { PartialDownloadStore } from '../jobs/PartialDownloadStore';
import type { FileFetcher } from '../jobs/types';
import type { WriteMode } from '../store/SequentialFileWriter';
import { addScanRoutes, createScanExecutor, LOCAL_SCAN_JOB } from '../scan/routes';
import {
  FeatureTask,
  ModelHubFeature,
  RouteExtension,
} from '../service/feature';
import { ArtifactStore } from '../store/ArtifactStore';
import { readHuggingFaceConfig } from './config';
import { addEntityFeedRoutes } from './entityFeed';
import { readHubNetwork } from './proxy';
import { HuggingFaceClient } from './HuggingFaceClient';
import { HuggingFaceStore } from './HuggingFaceStore';
import { readSourceStatusConfig } from '../sources/config';
import { addSourceRoutes, SOURCE_ROUTES } from '../sources/routes';
import { SourceRegistry } from '../sources/SourceRegistry';
import { SourceStatusChecker } from '../sources/SourceStatusChecker';
import { SourceStore } from '../sources/SourceStore';
import {
  HF_DOWNLOAD_JOB,
  HF_SYNC_JOB,
  HuggingFaceSync,
} from './HuggingFaceSync';
import { addHuggingFaceRoutes } from './routes';

export type { RouteExtension } from '../service/feature';

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
  ['get', '/scan'],
  ...SOURCE_ROUTES,
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

/** The Hugging Face sync as a feature, with the services others use. @internal */
export type HuggingFaceFeature = ModelHubFeature & {
  sync: HuggingFaceSync;
  /** The Hub client (the mirror's on-demand fetches use it). */
  client: HuggingFaceClient;
  /** The model sources (issue 22); `sync` and `client` are the default one's. */
  registry: SourceRegistry;
  checker: SourceStatusChecker;
  /** Upstream drift as a review (issue 19). */
  drift: DriftReview;
  /**
   * With `modelHub.huggingface.fetch: on-demand`: how the mirror fetches a
   * file that is not in the store yet (through its model's source, into
   * the downloads' folder, written as downloads are); else undefined.
   */
  onDemandFetch?: {
    fetcherOf: (target: { modelId?: string }) => Promise<FileFetcher>;
    downloadDir: string;
    writeMode: WriteMode;
  };
};

/**
 * The Hugging Face sync as a feature of the plugin: the executors of its
 * jobs (sync and local scan, downloads), its scheduled tasks (the sync of
 * each configured source, `huggingface-sync` for the default one, global
 * scope: one run per interval across all instances; the due run-time
 * sources; the source status), and the routes of registration, downloads,
 * the entity feed, the sources and the local scan.
 *
 * @internal
 */
export async function setupHuggingFace(deps: {
  config: RootConfigService;
  logger: LoggerService;
  database: DatabaseService;
  /** Unused: the feature's tasks are returned, for the plugin to schedule. */
  scheduler?: SchedulerService;
  /** Starts the job workers when `jobs` is not given. */
  lifecycle: LifecycleService;
  signals?: SignalsService;
  /**
   * The hub's job queue and workers (the core's); the jobs of the sync run
   * there. Without it, a runner of its own (tests).
   */
  jobs?: JobRunner;
  /** Failing model sources notify the admins (`modelHub.sourceStatus.notify`). */
  notifications?: NotificationService;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  /** The approvals workflow: drift versions are submitted through it. */
  approvals?: ApprovalsService;
  auditor?: AuditorService;
  /** Called for every file a download job stores (format inspection). */
  onFileStored?: (
    versionId: string,
    file: { path: string; sha256: string; size: number },
  ) => Promise<unknown>;
}): Promise<HuggingFaceFeature> {
  const logger = deps.logger.child({ target: 'huggingface' });
  const config = readHuggingFaceConfig(deps.config);
  const knex = await deps.database.getClient();
  const jobs =
    deps.jobs ??
    new JobRunner({
      db: knex,
      logger,
      signals: deps.signals,
      lifecycle: deps.lifecycle,
    });
  const queue = jobs.queue;
  // every repo of every source (listing); each source has its own
  const hfStore = new HuggingFaceStore(knex);
  // the model sources (issue 22): the single modelHub.huggingface block is
  // the source `huggingface`; each Hub source has its client and token
  const sourceStore = new SourceStore(knex);
  const registry = new SourceRegistry({
    config: deps.config,
    hfConfig: config,
    knex,
    store: deps.store,
    queue,
    sourceStore,
    logger,
    network: readHubNetwork(deps.config),
    onEnqueue: () => jobs.wake(),
  });
  await registry.load();
  const statusConfig = readSourceStatusConfig(deps.config);
  const checker = new SourceStatusChecker({
    registry,
    sourceStore,
    logger: logger.child({ target: 'model-sources' }),
    notifications: deps.notifications,
    notify: statusConfig.notify,
  });
  const { sync, client } = registry.hub();
  // the root of the local scan: the first local source
  const localSource = registry.defaultLocalSource();
  // upstream drift as a review: the versions of new upstream commits of
  // tracked revisions, by modelHub.huggingface.onDrift
  const drift = new DriftReview({
    db: knex,
    store: deps.store,
    hfStore,
    policy: config.onDrift,
    logger: logger.child({ target: 'drift' }),
    approvals: deps.approvals,
    notifications: deps.notifications,
    auditor: deps.auditor,
    downloadJobType: HF_DOWNLOAD_JOB,
  });

  const syncExecutor: JobExecutor = async ctx => {
    const params = ctx.job.params as {
      repo?: string;
      revision?: string;
      source?: string;
    };
    if (!params.repo) {
      throw new Error('A sync job needs a repo');
    }
    // the source of the model's repo, with its token
    const source = await registry.hubOfJob(ctx.job.modelId, params.source);
    const result = await source.sync.syncRepo({
      repoId: params.repo,
      revision: params.revision,
      modelId: ctx.job.modelId,
      signal: ctx.signal,
      log: message => ctx.log('info', message),
    });
    await sourceStore.stampVersions(source.definition.name, ctx.job.modelId);
    if (result.drift && ctx.job.modelId) {
      try {
        await drift.recordDrift({
          modelId: ctx.job.modelId,
          versionLabel: result.drift.versionLabel,
          commit: result.commit,
          previousCommit: result.drift.previousCommit,
        });
        await ctx.log('info', `Version ${result.drift.versionLabel} recorded for the drift policy (${drift.policy})`);
      } catch (error) {
        await ctx.log('warn', `The drift review of ${result.drift.versionLabel} failed: ${(error as Error).message}`);
      }
    }
    ctx.progress(result);
  };
  // one download executor per source client (a rotated token: a new one)
  const downloadExecutors = new Map<
    string,
    { client: HuggingFaceClient; executor: JobExecutor }
  >();
  const downloadExecutor: JobExecutor = async ctx => {
    const source = await registry.hubOfJob(ctx.job.modelId);
    const name = source.definition.name;
    let entry = downloadExecutors.get(name);
    if (!entry || entry.client !== source.client) {
      entry = {
        client: source.client,
        executor: createDownloadExecutor({
          fetcher: source.client,
          store: deps.store,
          artifacts: deps.artifacts,
          partials: new PartialDownloadStore(knex),
          // partials of each upstream apart (the source of the single
          // modelHub.huggingface block keeps the folder it always had)
          downloadDir:
            name === 'huggingface'
              ? config.downloadDir
              : join(config.downloadDir, `source-${name}`),
          writeMode: config.writeMode,
          parallel: config.parallelDownload,
          onFileStored: deps.onFileStored,
        }),
      };
      downloadExecutors.set(name, entry);
    }
    await entry.executor(ctx);
    // a drift version whose files are in is submitted when its checks pass
    if (ctx.job.versionId) {
      await drift
        .advance({ versionId: ctx.job.versionId, finishedJobId: ctx.job.id })
        .catch(error => logger.warn(`Drift review after job ${ctx.job.id} failed: ${error}`));
    }
  };
  const pools: ModelHubFeature['jobs'] = [
    {
      concurrency: 2,
      executors: {
        [HF_SYNC_JOB]: syncExecutor,
        // the local scan (issue 19): a job with progress and logs
        [LOCAL_SCAN_JOB]: async ctx => {
          const root = localSource?.root ?? config.scanRoot;
          if (!root) {
            throw new Error('Local scanning is off; set modelHub.scan.root to enable it');
          }
          return createScanExecutor({
            root,
            namespace: config.namespace,
            store: deps.store,
            artifacts: deps.artifacts,
            inspect: deps.onFileStored,
          })(ctx);
        },
      },
    },
    {
      concurrency: config.downloadConcurrency,
      executors: {
        [HF_DOWNLOAD_JOB]: downloadExecutor,
      },
    },
  ];

  const runSourceSync = async (name: string, signal?: AbortSignal) => {
    try {
      const source = registry.hub(name);
      const result = await source.sync.runScheduled({ signal, logger });
      await drift
        .advance()
        .catch(error => logger.warn(`Drift review failed: ${error}`));
      await sourceStore.stampVersions(name);
      await sourceStore.markScheduledSync(name);
      logger.info(
        `Hugging Face sync${
          name === 'huggingface' ? '' : ` of ${name}`
        }: ${result.synced} synced, ${result.checked} checked, ${result.drifted} with upstream drift, ${result.failed} failed`,
      );
    } catch (error) {
      if (!(error instanceof RetryableJobError)) {
        logger.error(`Hugging Face sync of ${name} failed`, error as Error);
      }
    }
  };
  const tasks: FeatureTask[] = [];
  // the scheduled sync of every Hub source of the config (the source
  // `huggingface` keeps the task id it always had)
  for (const source of registry.list()) {
    if (source.kind !== 'huggingface' || source.origin !== 'config') {
      continue;
    }
    tasks.push({
      id:
        source.name === 'huggingface'
          ? 'huggingface-sync'
          : `model-hub-source-sync-${source.name}`,
      schedule: { scope: 'global', ...source.schedule },
      fn: signal => runSourceSync(source.name, signal),
    });
  }
  // sources added at run time: the due ones, every minute
  tasks.push({
    id: 'model-hub-runtime-source-sync',
    schedule: {
      scope: 'global',
      frequency: { minutes: 1 },
      timeout: { minutes: 30 },
      initialDelay: { minutes: 1 },
    },
    fn: async signal => {
      await registry.load();
      for (const source of registry.list()) {
        if (source.kind !== 'huggingface' || source.origin !== 'runtime') {
          continue;
        }
        const last = await sourceStore.lastScheduledSync(source.name);
        // run-time sources store whole minutes (sync_minutes)
        const minutes =
          (source.schedule.frequency as { minutes?: number }).minutes ?? 60;
        const every = minutes * 60_000;
        if (!last || Date.now() - last.getTime() >= every) {
          await runSourceSync(source.name, signal);
        }
      }
    },
  });
  // the status of every source: reachable, credentials, rate limit
  tasks.push({
    id: 'model-hub-source-status',
    schedule: {
      scope: 'global',
      frequency: statusConfig.frequency,
      timeout: { minutes: 5 },
      initialDelay: { seconds: 15 },
    },
    fn: async () => {
      await checker.checkAll();
    },
  });

  return {
    id: 'huggingface',
    onDemandFetch:
      config.fetchMode === 'on-demand'
        ? {
            fetcherOf: async ({ modelId }) =>
              (await registry.hubOfJob(modelId)).client,
            downloadDir: config.downloadDir,
            writeMode: config.writeMode,
          }
        : undefined,
    tasks,
    jobs: pools,
    drift,
    sync,
    client,
    registry,
    checker,
    routes: [
      (router, ctx) =>
        addHuggingFaceRoutes(router, ctx, { registry, hfStore, sourceStore }),
      (router, ctx) =>
        addSourceRoutes(router, ctx, { registry, sourceStore, checker }),
      (router, ctx) => addEntityFeedRoutes(router, ctx, knex),
      (router, ctx) =>
        addScanRoutes(router, ctx, {
          root: localSource?.root ?? config.scanRoot,
          namespace: config.namespace,
          queue,
          onEnqueue: () => jobs.wake(),
        }),
    ],
  };
}
