import { ConflictError } from '@backstage/errors';
import { Knex } from 'knex';

/**
 * The model that holds a registered Hugging Face repo: a registered repo
 * (`hf_repos`, unique by repo id and by model) belongs to exactly one model,
 * and only that model syncs or downloads it.
 *
 * @internal
 */
export type HfRepoHolder = {
  /** The repo id as registered (the Hub's spelling). */
  repoId: string;
  modelId: string;
  modelRef: string;
};

/**
 * The holder of a registered repo (by repo id, compared case-insensitively
 * as the Hub does), or the registered repo of a model (by model id).
 *
 * @internal
 */
export async function findHfRepoHolder(
  db: Knex | Knex.Transaction,
  filter:
    | {
        repoId: string;
        /** The model source (issue 22): the same id on two sources is two repos. */
        source?: string;
      }
    | { modelId: string },
): Promise<HfRepoHolder | undefined> {
  const query = db('hf_repos as r').join('models as m', 'm.id', 'r.model_id');
  if ('repoId' in filter) {
    query.whereRaw('lower(r.repo_id) = ?', [
      filter.repoId.toLocaleLowerCase('en-US'),
    ]);
    if (filter.source) {
      query.where('r.source_name', filter.source);
    }
  } else {
    query.where('r.model_id', filter.modelId);
  }
  const row = await query.first(
    'r.repo_id as repo_id',
    'r.model_id as model_id',
    'm.entity_ref as entity_ref',
  );
  return row
    ? { repoId: row.repo_id, modelId: row.model_id, modelRef: row.entity_ref }
    : undefined;
}

/** The Hugging Face repo id a model `source` names, if any. @internal */
export function hfRepoOfSource(source: unknown): string | undefined {
  if (source && typeof source === 'object' && 'huggingface' in source) {
    const repo = (source as { huggingface?: { repo?: unknown } }).huggingface
      ?.repo;
    return typeof repo === 'string' ? repo : undefined;
  }
  return undefined;
}

/**
 * Refuses (409, naming the holder) a model whose `namespace/name` is the id
 * of a registered Hugging Face repo (the mirror serves that id from the
 * registered repo, so such a model would squat on it), or whose `source`
 * names a repo that another model holds.
 *
 * @internal
 */
export async function assertModelIdentityFree(
  db: Knex | Knex.Transaction,
  model: {
    namespace: string;
    name: string;
    source?: unknown;
    /** The model itself, when it exists already (a change of its source). */
    modelId?: string;
    /** The model source its repo is on; default: `huggingface`. */
    sourceName?: string;
  },
): Promise<void> {
  const id = `${model.namespace}/${model.name}`;
  const named = await findHfRepoHolder(db, { repoId: id });
  if (named && named.modelId !== model.modelId) {
    throw new ConflictError(
      `${id} is the id of the Hugging Face repo ${named.repoId}, registered as ${named.modelRef}; choose another namespace or name`,
    );
  }
  const repo = hfRepoOfSource(model.source);
  if (repo) {
    const holder = await findHfRepoHolder(db, {
      repoId: repo,
      source: model.sourceName ?? 'huggingface',
    });
    if (holder && holder.modelId !== model.modelId) {
      throw new ConflictError(
        `The Hugging Face repo ${holder.repoId} is registered as ${holder.modelRef}; another model cannot name it as its source`,
      );
    }
  }
}
