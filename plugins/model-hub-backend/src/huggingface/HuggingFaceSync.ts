import { LoggerService } from '@backstage/backend-plugin-api';
import { HubModel } from '../database/types';
import { HfFileEntry } from './HuggingFaceClient';
import { HfRepo } from './HuggingFaceStore';
import { compileGlobs } from './metadata';
import { registerRepo } from './repoRegistration';
import { RepoSyncResult, syncRepoMetadata } from './repoSync';
import { checkAllowed, HuggingFaceSyncOptions } from './syncCommon';
import { enqueueDownload, enqueueDriftSync } from './syncJobs';

export {
  HF_DOWNLOAD_JOB,
  HF_SYNC_JOB,
  MAX_CARD_BYTES,
  versionLabelOf,
} from './syncCommon';
export type { HuggingFaceSyncOptions } from './syncCommon';

/**
 * Registration, metadata sync and download scheduling of Hugging Face
 * repositories: registration is in repoRegistration.ts, the metadata sync
 * in repoSync.ts, the queueing of jobs in syncJobs.ts.
 *
 * @internal
 */
export class HuggingFaceSync {
  private readonly included: (path: string) => boolean;
  private readonly excluded: (path: string) => boolean;

  constructor(private readonly options: HuggingFaceSyncOptions) {
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
    checkAllowed(this.options.config, repoId);
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
  register(options: {
    repoId: string;
    revision: string;
    owner: string;
    createdBy: string;
    lifecycle?: string;
  }): Promise<{ model: HubModel; repo: HfRepo; jobId: string }> {
    return registerRepo(this.options, options);
  }

  /**
   * Syncs a repo's metadata at a revision: resolves it to its commit, lists
   * every file (all pages), reads config.json / model_index.json and the
   * model card's front matter into the model, creates the version of the
   * commit, and queues its download when artifacts are fetched on
   * registration.
   */
  syncRepo(options: {
    repoId: string;
    revision?: string;
    modelId?: string;
    signal?: AbortSignal;
    log?: (message: string) => Promise<void> | void;
  }): Promise<RepoSyncResult> {
    return syncRepoMetadata(this.options, options, o =>
      this.enqueueDownload(o),
    );
  }

  /**
   * Queues the download of a version's files (all, or the chosen paths),
   * filtered by include/exclude; returns the job id, or the id of a download
   * of the version that is already queued or running.
   */
  enqueueDownload(options: {
    modelId: string;
    versionId: string;
    repoId: string;
    commit: string;
    files?: HfFileEntry[];
    paths?: string[];
    createdBy: string;
  }): Promise<string | undefined> {
    return enqueueDownload(this.options, path => this.isWanted(path), options);
  }

  /**
   * Queues the sync of a drifted repo's tracked revision, unless a sync of
   * its model is queued or running already; returns the job id.
   */
  enqueueDriftSync(repo: HfRepo): Promise<string> {
    return enqueueDriftSync(this.options, repo);
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
  async runScheduled(
    options: {
      concurrency?: number;
      signal?: AbortSignal;
      logger?: LoggerService;
    } = {},
  ): Promise<{
    synced: number;
    checked: number;
    drifted: number;
    failed: number;
  }> {
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
          const info = await client.getModelInfo(
            repo.repoId,
            repo.revision,
            options.signal,
          );
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
          const failed = await hfStore
            .getRepo({ repoId })
            .catch(() => undefined);
          if (failed && !options.signal?.aborted) {
            await hfStore
              .recordFailure(failed.id, (error as Error).message)
              .catch(e =>
                logger.warn(`Could not record the failure of ${repoId}: ${e}`),
              );
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
        }).catch(e =>
          logger.warn(`Queueing the download of ${v.repoId} failed: ${e}`),
        );
      }
    }
    return result;
  }
}
