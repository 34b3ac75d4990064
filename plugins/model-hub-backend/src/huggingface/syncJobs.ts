import { ConflictError, InputError } from '@backstage/errors';
import { HfFileEntry } from './HuggingFaceClient';
import { HfRepo } from './HuggingFaceStore';
import {
  HF_DOWNLOAD_JOB,
  HF_SYNC_JOB,
  HuggingFaceSyncOptions,
} from './syncCommon';

/**
 * Queues the download of a version's files (all, or the chosen paths),
 * filtered by include/exclude; returns the job id, or the id of a download
 * of the version that is already queued or running.
 */
export async function enqueueDownload(
  deps: HuggingFaceSyncOptions,
  /** Whether include/exclude let a file be downloaded. */
  isWanted: (path: string) => boolean,
  options: {
    modelId: string;
    versionId: string;
    repoId: string;
    commit: string;
    files?: HfFileEntry[];
    paths?: string[];
    createdBy: string;
  },
): Promise<string | undefined> {
  const { store, hfStore } = deps;
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
        lfs: {
          sha256: f.lfsSha256,
          size: f.size,
          pointerSize: f.lfsPointerSize ?? 0,
        },
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
        `Not files of ${options.repoId}@${options.commit}: ${missing.join(
          ', ',
        )}`,
      );
    }
  } else {
    chosen = files.filter(f => isWanted(f.path));
  }
  const jobId = await deps.queue.enqueue({
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
  deps.onEnqueue?.();
  return jobId;
}

/**
 * Queues the sync of a drifted repo's tracked revision, unless a sync of
 * its model is queued or running already; returns the job id.
 */
export async function enqueueDriftSync(
  deps: HuggingFaceSyncOptions,
  repo: HfRepo,
): Promise<string> {
  const { store, queue } = deps;
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
  deps.onEnqueue?.();
  return jobId;
}
