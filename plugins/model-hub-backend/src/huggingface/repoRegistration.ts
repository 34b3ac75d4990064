import { ConflictError, InputError } from '@backstage/errors';
import { HubModel } from '../database/types';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { HfRepo } from './HuggingFaceStore';
import {
  modelTypeOf,
  parseModelCard,
  toCatalogTags,
  toEntityName,
} from './metadata';
import {
  checkAllowed,
  conflictOnDuplicate,
  HF_SYNC_JOB,
  HuggingFaceSyncOptions,
} from './syncCommon';

/**
 * Registers a repo: checks it exists upstream and is readable with the
 * configured token (gated repos without access fail here with a clear
 * error), creates its model and queues its first sync.
 */
export async function registerRepo(
  deps: HuggingFaceSyncOptions,
  options: {
    repoId: string;
    revision: string;
    owner: string;
    createdBy: string;
    lifecycle?: string;
  },
): Promise<{ model: HubModel; repo: HfRepo; jobId: string }> {
  const { client, hfStore, store } = deps;
  checkAllowed(deps.config, options.repoId);
  await assertRegistrable(deps, options.repoId);
  const info = await client.getModelInfo(options.repoId, options.revision);
  if (info.id && info.id !== options.repoId) {
    // the Hub's spelling of the id is the one registered
    await assertRegistrable(deps, info.id);
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
    namespace: deps.config.namespace,
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
  const jobId = await deps.queue.enqueue({
    type: HF_SYNC_JOB,
    modelId: model.id,
    params: { repo: options.repoId, revision: options.revision },
    createdBy: options.createdBy,
  });
  deps.onEnqueue?.();
  const repo = (await hfStore.getRepo({ modelId: model.id }))!;
  return { model, repo, jobId };
}

/**
 * Throws a `ConflictError` naming the holder when a repo is registered
 * already, or when a model's `namespace/name` is the repo id (the mirror
 * serves that id from the registered repo: such a model would lose it).
 */
async function assertRegistrable(deps: HuggingFaceSyncOptions, repoId: string) {
  const { hfStore, store } = deps;
  const existing = await hfStore.getRepo({ repoId });
  if (existing) {
    throw new ConflictError(
      `${repoId} is already registered as ${existing.modelRef}`,
    );
  }
  const [org, name] = repoId.split('/');
  const namesake = await store.getModel({
    entityRef: modelEntityRef(org, name),
  });
  if (namesake) {
    throw new ConflictError(
      `${repoId} is the namespace and name of the model ${namesake.entityRef}; it cannot be registered`,
    );
  }
}

/**
 * The registered repo a sync acts on: the repo of the model, or the one
 * of its source, registered for it when no other model holds it.
 */
export async function ensureRepo(
  deps: HuggingFaceSyncOptions,
  options: {
    repoId: string;
    revision: string;
    modelId?: string;
  },
): Promise<HfRepo> {
  const { hfStore } = deps;
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
