import { HfFileEntry } from './HuggingFaceClient';
import {
  modelFormatOf,
  modelTypeOf,
  parseModelCard,
  toCatalogTags,
} from './metadata';
import { redactUrl } from '../service/redactUrl';
import { ensureRepo } from './repoRegistration';
import {
  checkAllowed,
  HuggingFaceSyncOptions,
  MAX_CARD_BYTES,
  MAX_METADATA_FILE,
  versionLabelOf,
} from './syncCommon';

/** What a sync of a repo's metadata returns. @internal */
export type RepoSyncResult = {
  commit: string;
  versionId: string;
  files: number;
  downloadJobId?: string;
  /** Set when the tracked revision moved to a new commit: upstream drift. */
  drift?: { previousCommit: string; versionLabel: string };
};

/**
 * Syncs a repo's metadata at a revision: resolves it to its commit, lists
 * every file (all pages), reads config.json / model_index.json and the
 * model card's front matter into the model, creates the version of the
 * commit, and queues its download when artifacts are fetched on
 * registration.
 */
export async function syncRepoMetadata(
  deps: HuggingFaceSyncOptions,
  options: {
    repoId: string;
    revision?: string;
    modelId?: string;
    signal?: AbortSignal;
    log?: (message: string) => Promise<void> | void;
  },
  /** Queues the download of the version (`fetch: registration`). */
  enqueueDownload: (options: {
    modelId: string;
    versionId: string;
    repoId: string;
    commit: string;
    files?: HfFileEntry[];
    createdBy: string;
  }) => Promise<string | undefined>,
): Promise<RepoSyncResult> {
  const { client, hfStore, store } = deps;
  const log = options.log ?? (() => {});
  checkAllowed(deps.config, options.repoId);
  const repo = await ensureRepo(deps, {
    repoId: options.repoId,
    revision: options.revision ?? 'main',
    modelId: options.modelId,
  });
  const revision = options.revision ?? repo.revision;
  // the commit the tracked revision was at: a new one is upstream drift
  const previousCommit = repo.lastSyncedCommit;
  let createdVersion = false;
  try {
    const info = await client.getModelInfo(
      repo.repoId,
      revision,
      options.signal,
    );
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
        text = await client.readText(
          repo.repoId,
          info.sha,
          path,
          options.signal,
          {
            maxBytes: MAX_METADATA_FILE,
          },
        );
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
      ? await client.readText(
          repo.repoId,
          info.sha,
          'README.md',
          options.signal,
          {
            maxBytes: MAX_CARD_BYTES,
            truncate: true,
          },
        )
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
            `Synced from ${redactUrl(`${client.endpoint}/${repo.repoId}`)} at ${
              info.sha
            } (${revision}).`,
            card.baseModels.length
              ? `Base models: ${card.baseModels.join(', ')}.`
              : '',
            card.datasets.length
              ? `Datasets: ${card.datasets.join(', ')}.`
              : '',
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
    if (deps.config.fetchMode === 'registration') {
      downloadJobId = await enqueueDownload({
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
      await log(
        `Upstream drift: ${revision} moved from ${previousCommit} to ${info.sha}`,
      );
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
