import {
  isDatabaseConflictError,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { ConflictError, InputError, NotAllowedError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel } from '../database/types';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { JobQueue } from '../jobs/JobQueue';
import { HuggingFaceConfig } from './config';
import { HfFileEntry, HuggingFaceClient } from './HuggingFaceClient';
import { HfRepo, HuggingFaceStore } from './HuggingFaceStore';
import {
  compileGlobs,
  modelFormatOf,
  modelTypeOf,
  parseModelCard,
  toCatalogTags,
  toEntityName,
} from './metadata';
import { redactUrl } from '../service/redactUrl';

/** The job types of the Hugging Face sync. @internal */
export const HF_SYNC_JOB = 'huggingface-sync';
/** @internal */
export const HF_DOWNLOAD_JOB = 'huggingface-download';

const MAX_METADATA_FILE = 5 * 1024 * 1024;
/** The most of a model card that is read: its front matter comes first. @internal */
export const MAX_CARD_BYTES = 1024 * 1024;

/** Turns a unique-constraint violation of a write into a `ConflictError`. */
async function conflictOnDuplicate<T>(
  message: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isDatabaseConflictError(error)) {
      throw new ConflictError(message, error);
    }
    throw error;
  }
}

/** The label of the version of a synced commit. @internal */
export function versionLabelOf(commit: string): string {
  return `hf-${commit.slice(0, 12)}`;
}

/**
 * Registration, metadata sync and download scheduling of Hugging Face
 * repositories.
 *
 * @internal
 */
export class HuggingFaceSync {
  private readonly included: (path: string) => boolean;
  private readonly excluded: (path: string) => boolean;

  constructor(
    private readonly options: {
      client: HuggingFaceClient;
      hfStore: HuggingFaceStore;
      store: ModelHubStore;
      queue: JobQueue;
      config: HuggingFaceConfig;
      logger: LoggerService;
      /** Called after jobs are queued, to wake the worker. */
      onEnqueue?: () => void;
    },
  ) {
    this.included = options.config.include.length
      ? compileGlobs(options.config.include)
      : () => true;
    this.excluded = compileGlobs(options.config.exclude);
  }

  get config() {
    return this.options.config;
  }

  /** Throws unless the repo's organization is allowed. */
  checkAllowed(repoId: string) {
    const allowed = this.options.config.allowedOrganizations;
    const org = repoId.split('/')[0].toLocaleLowerCase('en-US');
    if (allowed.length && !allowed.includes(org)) {
      throw new NotAllowedError(
        `The organization ${org} is not in modelHub.huggingface.allowedOrganizations`,
      );
    }
  }

  /** Whether include/exclude let a file be downloaded. */
  isWanted(path: string): boolean {
    return this.included(path) && !this.excluded(path);
  }

  /**
   * Registers a repo: checks it exists upstream and is readable with the
   * configured token (gated repos without access fail here with a clear
   * error), creates its model and queues its first sync.
   */
  async register(options: {
    repoId: string;
    revision: string;
    owner: string;
    createdBy: string;
    lifecycle?: string;
  }): Promise<{ model: HubModel; repo: HfRepo; jobId: string }> {
    const { client, hfStore, store } = this.options;
    this.checkAllowed(options.repoId);
    await this.assertRegistrable(options.repoId);
    const info = await client.getModelInfo(options.repoId, options.revision);
    if (info.id && info.id !== options.repoId) {
      // the Hub's spelling of the id is the one registered
      await this.assertRegistrable(info.id);
    }
    if (info.gated) {
      // Metadata of gated repos is public; the files are not. Probe one.
      const files = await client.listFiles(options.repoId, info.sha);
      const probe = files.find(
        f => f.path !== 'README.md' && f.path !== '.gitattributes',
      );
      if (probe) {
        const res = await client.fetchFile(options.repoId, info.sha, probe.path, {
          headers: { Range: 'bytes=0-0' },
        });
        await res.body?.cancel();
      }
    }
    const card = parseModelCard(undefined);
    const name = toEntityName(info.id || options.repoId);
    const model = await store.createModel({
      namespace: this.options.config.namespace,
      name,
      title: info.id || options.repoId,
      description: `Hugging Face model ${info.id || options.repoId}`,
      type: modelTypeOf(info.pipelineTag),
      task: info.pipelineTag,
      license: (info.cardData?.license as string | undefined) ?? card.license,
      lifecycle: options.lifecycle ?? 'experimental',
      owner: options.owner,
      sourceType: 'huggingface',
      source: {
        huggingface: { repo: options.repoId, revision: options.revision },
      },
      // the model source of a per-source store (issue 22)
      sourceName: hfStore.source,
      tags: toCatalogTags(['huggingface', ...info.tags]),
      createdBy: options.createdBy,
    });
    try {
      await conflictOnDuplicate(
        `${info.id || options.repoId} was registered concurrently`,
        () =>
          hfStore.insertRepo({
            modelId: model.id,
            repoId: info.id || options.repoId,
            revision: options.revision,
            gated: info.gated ? String(info.gated) : undefined,
            createdBy: options.createdBy,
          }),
      );
    } catch (error) {
      // the model was created for this registration only
      await hfStore.deleteUnregisteredModel(model.id);
      throw error;
    }
    await hfStore.clearTombstone(model.entityRef);
    const jobId = await this.options.queue.enqueue({
      type: HF_SYNC_JOB,
      modelId: model.id,
      params: { repo: options.repoId, revision: options.revision },
      createdBy: options.createdBy,
    });
    this.options.onEnqueue?.();
    const repo = (await hfStore.getRepo({ modelId: model.id }))!;
    return { model, repo, jobId };
  }

  /**
   * Throws a `ConflictError` naming the holder when a repo is registered
   * already, or when a model's `namespace/name` is the repo id (the mirror
   * serves that id from the registered repo: such a model would lose it).
   */
  private async assertRegistrable(repoId: string) {
    const { hfStore, store } = this.options;
    const existing = await hfStore.getRepo({ repoId });
    if (existing) {
      throw new ConflictError(
        `${repoId} is already registered as ${existing.modelRef}`,
      );
    }
    const [org, name] = repoId.split('/');
    const namesake = await store.getModel({ entityRef: modelEntityRef(org, name) });
    if (namesake) {
      throw new ConflictError(
        `${repoId} is the namespace and name of the model ${namesake.entityRef}; it cannot be registered`,
      );
    }
  }

  private async ensureRepo(options: {
    repoId: string;
    revision: string;
    modelId?: string;
  }): Promise<HfRepo> {
    const { hfStore } = this.options;
    if (!options.modelId) {
      const repo = await hfStore.getRepo({ repoId: options.repoId });
      if (!repo) {
        throw new InputError(`${options.repoId} is not registered`);
      }
      return repo;
    }
    // a sync of a model acts only on that model: on the repo it holds, or on
    // the repo of its source when no other model holds that one
    const own = await hfStore.getRepo({ modelId: options.modelId });
    if (own) {
      return own;
    }
    const held = await hfStore.getRepo({ repoId: options.repoId });
    if (held) {
      throw new ConflictError(
        `The Hugging Face repo ${held.repoId} is registered as ${held.modelRef}; another model cannot sync it`,
      );
    }
    // a model created with a Hugging Face source but never registered
    await conflictOnDuplicate(
      `The Hugging Face repo ${options.repoId} was registered concurrently`,
      () =>
        hfStore.insertRepo({
          modelId: options.modelId!,
          repoId: options.repoId,
          revision: options.revision,
          createdBy: 'huggingface-sync',
        }),
    );
    return (await hfStore.getRepo({ modelId: options.modelId }))!;
  }

  /**
   * Syncs a repo's metadata at a revision: resolves it to its commit, lists
   * every file (all pages), reads config.json / model_index.json and the
   * model card's front matter into the model, creates the version of the
   * commit, and queues its download when artifacts are fetched on
   * registration.
   */
  async syncRepo(options: {
    repoId: string;
    revision?: string;
    modelId?: string;
    signal?: AbortSignal;
    log?: (message: string) => Promise<void> | void;
  }): Promise<{
    commit: string;
    versionId: string;
    files: number;
    downloadJobId?: string;
    /** Set when the tracked revision moved to a new commit: upstream drift. */
    drift?: { previousCommit: string; versionLabel: string };
  }> {
    const { client, hfStore, store } = this.options;
    const log = options.log ?? (() => {});
    this.checkAllowed(options.repoId);
    const repo = await this.ensureRepo({
      repoId: options.repoId,
      revision: options.revision ?? 'main',
      modelId: options.modelId,
    });
    const revision = options.revision ?? repo.revision;
    // the commit the tracked revision was at: a new one is upstream drift
    const previousCommit = repo.lastSyncedCommit;
    let createdVersion = false;
    try {
      const info = await client.getModelInfo(repo.repoId, revision, options.signal);
      await log(`Resolved ${repo.repoId}@${revision} to ${info.sha}`);
      const files = await client.listFiles(repo.repoId, info.sha, options.signal);
      await log(`Listed ${files.length} files`);
      const byPath = new Map(files.map(f => [f.path, f]));
      const readJson = async (path: string) => {
        const f = byPath.get(path);
        if (!f || f.size > MAX_METADATA_FILE) {
          return undefined;
        }
        let text: string | undefined;
        try {
          text = await client.readText(repo.repoId, info.sha, path, options.signal, {
            maxBytes: MAX_METADATA_FILE,
          });
        } catch (error) {
          if ((error as Error).name !== 'UpstreamTooLargeError') {
            throw error;
          }
          await log(`${(error as Error).message}; ignored`);
          return undefined;
        }
        try {
          return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        } catch {
          await log(`${path} is not valid JSON; ignored`);
          return undefined;
        }
      };
      const config = await readJson('config.json');
      const modelIndex = await readJson('model_index.json');
      const readme = byPath.has('README.md')
        ? await client.readText(repo.repoId, info.sha, 'README.md', options.signal, {
            maxBytes: MAX_CARD_BYTES,
            truncate: true,
          })
        : undefined;
      const card = parseModelCard(readme);
      const pipelineTag = card.pipelineTag ?? info.pipelineTag;
      const tags = toCatalogTags([
        'huggingface',
        ...card.tags,
        ...(card.libraryName ? [card.libraryName] : []),
        ...(typeof config?.model_type === 'string' ? [config.model_type] : []),
        ...info.tags.filter(t => !t.includes(':')),
      ]);
      await hfStore.recordSync({
        id: repo.id,
        modelId: repo.modelId,
        commit: info.sha,
        files,
        gated: info.gated ? String(info.gated) : undefined,
        cardData: card.data,
        config: modelIndex ?? config,
        model: {
          type: modelTypeOf(pipelineTag, { hasModelIndex: Boolean(modelIndex) }),
          task: pipelineTag,
          format: modelFormatOf(files.map(f => f.path)),
          license: card.license,
          tags,
        },
      });

      // the version of the commit
      const label = versionLabelOf(info.sha);
      let version = await store.getVersion({ modelId: repo.modelId, label });
      if (!version) {
        try {
          version = await store.createVersion({
            modelId: repo.modelId,
            label,
            sourceType: 'huggingface',
            source: { huggingface: { repo: repo.repoId, revision: info.sha } },
            resolvedCommit: info.sha,
            notes: [
              `Synced from ${redactUrl(`${client.endpoint}/${repo.repoId}`)} at ${info.sha} (${revision}).`,
              card.baseModels.length ? `Base models: ${card.baseModels.join(', ')}.` : '',
              card.datasets.length ? `Datasets: ${card.datasets.join(', ')}.` : '',
            ]
              .filter(Boolean)
              .join(' '),
            createdBy: 'huggingface-sync',
            // the version is reviewed and approved with this file list;
            // downloads only fill in bytes that match it
            expectedFiles: files.map(f =>
              f.lfs
                ? { path: f.path, size: f.lfs.size, sha256: f.lfs.sha256 }
                : { path: f.path, size: f.size, gitOid: f.oid },
            ),
          });
          await log(`Created version ${label}`);
          createdVersion = true;
        } catch (error) {
          if ((error as Error).name !== 'ConflictError') {
            throw error;
          }
          version = (await store.getVersion({ modelId: repo.modelId, label }))!;
        }
      }
      let downloadJobId: string | undefined;
      if (this.options.config.fetchMode === 'registration') {
        downloadJobId = await this.enqueueDownload({
          modelId: repo.modelId,
          versionId: version.id,
          repoId: repo.repoId,
          commit: info.sha,
          files,
          createdBy: 'huggingface-sync',
        });
      }
      // upstream drift: the tracked revision moved to a new commit and this
      // sync created its version (the drift policy reviews it, driftReview.ts)
      const drift =
        createdVersion &&
        previousCommit &&
        previousCommit !== info.sha &&
        revision === repo.revision
          ? { previousCommit, versionLabel: label }
          : undefined;
      if (drift) {
        await log(`Upstream drift: ${revision} moved from ${previousCommit} to ${info.sha}`);
      }
      return {
        commit: info.sha,
        versionId: version.id,
        files: files.length,
        downloadJobId,
        ...(drift && { drift }),
      };
    } catch (error) {
      await hfStore.recordFailure(repo.id, (error as Error).message);
      throw error;
    }
  }

  /**
   * Queues the download of a version's files (all, or the chosen paths),
   * filtered by include/exclude; returns the job id, or the id of a download
   * of the version that is already queued or running.
   */
  async enqueueDownload(options: {
    modelId: string;
    versionId: string;
    repoId: string;
    commit: string;
    files?: HfFileEntry[];
    paths?: string[];
    createdBy: string;
  }): Promise<string | undefined> {
    const { store, hfStore } = this.options;
    const active = await store.listJobs({
      offset: 0,
      limit: 100,
      modelId: options.modelId,
      type: HF_DOWNLOAD_JOB,
      state: ['queued', 'running'],
    });
    const same = active.items.find(j => j.versionId === options.versionId);
    if (same && !options.paths) {
      return same.id;
    }
    let files = options.files;
    if (!files) {
      const repo = await hfStore.getRepo({ modelId: options.modelId });
      if (!repo || repo.lastSyncedCommit !== options.commit) {
        throw new ConflictError(
          `The file list of ${options.repoId}@${options.commit} is not synced; sync the repo first`,
        );
      }
      files = (await hfStore.listFiles(repo.id)).map(f => ({
        path: f.path,
        size: f.size,
        oid: f.oid,
        ...(f.lfsSha256 && {
          lfs: { sha256: f.lfsSha256, size: f.size, pointerSize: f.lfsPointerSize ?? 0 },
        }),
      }));
    }
    let chosen = files;
    if (options.paths) {
      const wanted = new Set(options.paths);
      chosen = files.filter(f => wanted.has(f.path));
      const missing = options.paths.filter(p => !chosen.some(f => f.path === p));
      if (missing.length) {
        throw new InputError(
          `Not files of ${options.repoId}@${options.commit}: ${missing.join(', ')}`,
        );
      }
    } else {
      chosen = files.filter(f => this.isWanted(f.path));
    }
    const jobId = await this.options.queue.enqueue({
      type: HF_DOWNLOAD_JOB,
      modelId: options.modelId,
      versionId: options.versionId,
      params: {
        repo: options.repoId,
        commit: options.commit,
        files: chosen.map(f => ({
          path: f.path,
          size: f.size,
          oid: f.oid,
          ...(f.lfs && { lfsSha256: f.lfs.sha256 }),
        })),
      },
      createdBy: options.createdBy,
    });
    this.options.onEnqueue?.();
    return jobId;
  }

  /**
   * Queues the sync of a drifted repo's tracked revision, unless a sync of
   * its model is queued or running already; returns the job id.
   */
  async enqueueDriftSync(repo: HfRepo): Promise<string> {
    const { store, queue } = this.options;
    const active = await store.listJobs({
      offset: 0,
      limit: 1,
      modelId: repo.modelId,
      type: HF_SYNC_JOB,
      state: ['queued', 'running'],
    });
    if (active.items.length) {
      return active.items[0].id;
    }
    const jobId = await queue.enqueue({
      type: HF_SYNC_JOB,
      modelId: repo.modelId,
      params: { repo: repo.repoId, revision: repo.revision, drift: true },
      createdBy: 'huggingface-sync',
    });
    this.options.onEnqueue?.();
    return jobId;
  }

  /**
   * The scheduled sync: syncs registered repos that were never synced,
   * checks the others for upstream drift, and queues a sync job (params
   * `drift: true`) for each repo whose tracked revision moved to a new
   * commit: the job creates the version of that commit, which the drift
   * policy reviews (driftReview.ts). A failed check is recorded on the repo
   * (`lastError`). In `approval` mode it queues downloads of approved
   * versions.
   */
  async runScheduled(options: {
    concurrency?: number;
    signal?: AbortSignal;
    logger?: LoggerService;
  } = {}): Promise<{ synced: number; checked: number; drifted: number; failed: number }> {
    const { hfStore, client } = this.options;
    const logger = options.logger ?? this.options.logger;
    const ids = await hfStore.listAllRepoIds();
    const result = { synced: 0, checked: 0, drifted: 0, failed: 0 };
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !options.signal?.aborted) {
        const repoId = ids[next++];
        try {
          const repo = await hfStore.getRepo({ repoId });
          if (!repo) {
            continue;
          }
          if (!repo.lastSyncedCommit) {
            await this.syncRepo({ repoId, signal: options.signal });
            result.synced += 1;
            continue;
          }
          const info = await client.getModelInfo(repo.repoId, repo.revision, options.signal);
          const updated = await hfStore.recordUpstream({
            id: repo.id,
            commit: info.sha,
            gated: info.gated ? String(info.gated) : undefined,
          });
          result.checked += 1;
          if (updated.drift) {
            result.drifted += 1;
            logger.info(
              `Upstream drift: ${repoId} is at ${info.sha}, last synced ${repo.lastSyncedCommit}`,
            );
            await this.enqueueDriftSync(updated);
          }
        } catch (error) {
          result.failed += 1;
          logger.warn(`Sync of ${repoId} failed: ${(error as Error).message}`);
          const failed = await hfStore.getRepo({ repoId }).catch(() => undefined);
          if (failed && !options.signal?.aborted) {
            await hfStore
              .recordFailure(failed.id, (error as Error).message)
              .catch(e => logger.warn(`Could not record the failure of ${repoId}: ${e}`));
          }
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker),
    );
    if (this.options.config.fetchMode === 'approval') {
      for (const v of await hfStore.listApprovedVersionsToFetch()) {
        await this.enqueueDownload({
          modelId: v.modelId,
          versionId: v.versionId,
          repoId: v.repoId,
          commit: v.resolvedCommit,
          createdBy: 'huggingface-sync',
        }).catch(e => logger.warn(`Queueing the download of ${v.repoId} failed: ${e}`));
      }
    }
    return result;
  }
}
