import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { Knex } from 'knex';
import {
  fetchSummaryExtras,
  summarizeModels,
  SummaryExtrasRows,
} from './modelSummaryExtras';
import { whereModel } from './modelReadFilter';
import { CreateModelOptions, ListModelsOptions } from './ModelHubStore';
import { HubModel, HubModelSummary, VersionState } from './types';
import {
  conflictOnDuplicate,
  DbDate,
  escapeLike,
  inTransaction,
  mapModel,
  modelEntityRef,
  ModelRow,
  toIso,
  VersionRow,
} from './rows';
import { assertModelIdentityFree } from './hfRepoIdentity';

const SORT_COLUMNS = {
  name: 'name',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const;

/**
 * Fields of a model that {@link ModelsStore.updateModel} sets: a field that
 * is `undefined` stays, `null` clears it. @internal
 */
export type ModelFieldsPatch = {
  title?: string | null;
  description?: string | null;
  type?: string;
  task?: string | null;
  format?: string | null;
  license?: string | null;
  lifecycle?: string;
  owner?: string;
  system?: string | null;
  sourceType?: string;
  /** Stored as JSON; `null` clears it. */
  source?: unknown;
  /** Replaces the tags (and the `model_tags` rows when they change). */
  tags?: string[];
};

function toMillis(value: DbDate): number {
  if (value instanceof Date) {
    return value.getTime();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return Number(value);
  }
  return Date.parse(value);
}

function searchText(
  name: string,
  title: string | null | undefined,
  description: string | null | undefined,
  tags: string[],
): string {
  return [name, title ?? '', description ?? '', ...tags]
    .join(' ')
    .toLocaleLowerCase('en-US');
}

async function replaceTags(
  tx: Knex.Transaction,
  modelId: string,
  tags: string[],
): Promise<void> {
  await tx('model_tags').where({ model_id: modelId }).delete();
  if (tags.length) {
    await tx('model_tags').insert(
      tags.map(tag => ({ model_id: modelId, tag })),
    );
  }
}

/**
 * The owner of `models` and `model_tags` (issue 21): every write of these
 * tables goes through this store. A method that takes `trx` runs in it (to
 * be atomic with the caller's other writes), or in a transaction of its own
 * when it is `undefined`.
 *
 * @internal
 */
export class ModelsStore {
  constructor(private readonly db: Knex) {}

  /** Creates a model (409 when its entity ref or Hub identity is taken). */
  async createModel(
    options: CreateModelOptions,
    trx?: Knex.Transaction,
  ): Promise<HubModel> {
    const now = new Date();
    const id = randomUUID();
    const entityRef = modelEntityRef(options.namespace, options.name);
    const tags = [...new Set(options.tags)];
    const row: ModelRow = {
      id,
      entity_ref: entityRef,
      namespace: options.namespace,
      name: options.name,
      title: options.title ?? null,
      description: options.description ?? null,
      type: options.type,
      task: options.task ?? null,
      format: options.format ?? null,
      license: options.license ?? null,
      lifecycle: options.lifecycle,
      owner: options.owner,
      source_type: options.sourceType,
      source:
        options.source === undefined ? null : JSON.stringify(options.source),
      tags: JSON.stringify(tags),
      ...(options.system && { system: options.system }),
      ...(options.sourceName && { source_name: options.sourceName }),
      search_text: searchText(
        options.name,
        options.title,
        options.description,
        tags,
      ),
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
    };
    await conflictOnDuplicate(`Model ${entityRef} already exists`, () =>
      inTransaction(this.db, trx, async tx => {
        const existing = await tx('models')
          .where({ entity_ref: entityRef })
          .first('id');
        if (existing) {
          throw new ConflictError(`Model ${entityRef} already exists`);
        }
        await assertModelIdentityFree(tx, options);
        await tx('models').insert(row);
        if (tags.length) {
          await tx('model_tags').insert(
            tags.map(tag => ({ model_id: id, tag })),
          );
        }
      }),
    );
    return mapModel(row);
  }

  async getModel(options: {
    entityRef: string;
  }): Promise<HubModel | undefined> {
    const row = await this.db<ModelRow>('models')
      .where({ entity_ref: options.entityRef.toLocaleLowerCase('en-US') })
      .first();
    return row ? mapModel(row) : undefined;
  }

  async listModels(
    options: ListModelsOptions,
  ): Promise<{ items: HubModelSummary[]; totalCount: number }> {
    const { filter = {}, search } = options;
    const query = this.db<ModelRow>('models');
    if (filter.type?.length) {
      query.whereIn('type', filter.type);
    }
    if (filter.owner?.length) {
      query.whereIn('owner', filter.owner);
    }
    if (filter.source?.length) {
      query.whereIn('source_type', filter.source);
    }
    if (filter.namespace?.length) {
      const namespaces = filter.namespace.map(n =>
        n.toLocaleLowerCase('en-US'),
      );
      query.whereRaw(
        `lower(namespace) in (${namespaces.map(() => '?').join(', ')})`,
        namespaces,
      );
    }
    for (const tag of filter.tag ?? []) {
      query.whereIn(
        'id',
        this.db('model_tags').select('model_id').where({ tag }),
      );
    }
    if (filter.state?.length) {
      const states = filter.state;
      query.whereExists(function stateFilter() {
        this.select(this.client.raw('1'))
          .from('model_versions')
          .whereRaw('model_versions.model_id = models.id')
          .whereIn('model_versions.state', states);
      });
    }
    if (search) {
      for (const term of search.toLocaleLowerCase('en-US').split(/\s+/)) {
        if (term) {
          query.whereRaw(`search_text like ? escape '\\'`, [
            `%${escapeLike(term)}%`,
          ]);
        }
      }
    }

    if (options.readable) {
      const readable = options.readable;
      query.where(b => whereModel(b, this.db, readable, 'models'));
    }

    const sortColumn = SORT_COLUMNS[options.sort?.field ?? 'name'];
    const order = options.sort?.order ?? 'asc';
    const [countRow, rows] = await Promise.all([
      query.clone().count({ count: '*' }).first(),
      query
        .clone()
        .select('*')
        .orderBy([
          { column: sortColumn, order },
          { column: 'id', order },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);

    const ids = (rows as ModelRow[]).map(r => r.id);
    // the versions of the page and what the active version and the worst
    // state need, at the same time
    const [versions, extraRows]: [
      Pick<VersionRow, 'id' | 'model_id' | 'label' | 'state' | 'created_at'>[],
      SummaryExtrasRows,
    ] = await Promise.all([
      ids.length
        ? this.db('model_versions')
            .whereIn('model_id', ids)
            .select('id', 'model_id', 'label', 'state', 'created_at')
        : Promise.resolve([]),
      fetchSummaryExtras(this.db, ids),
    ]);
    const extras = summarizeModels(ids, versions, extraRows);
    const byModel = new Map<string, typeof versions>();
    for (const v of versions) {
      const list = byModel.get(v.model_id) ?? [];
      list.push(v);
      byModel.set(v.model_id, list);
    }

    const items = (rows as ModelRow[]).map(row => {
      const list = (byModel.get(row.id) ?? []).sort(
        (a, b) =>
          new Date(toIso(b.created_at)).getTime() -
          new Date(toIso(a.created_at)).getTime(),
      );
      const latest = list[0];
      return {
        ...mapModel(row),
        versionCount: list.length,
        latestVersion: latest
          ? {
              label: latest.label,
              state: latest.state as VersionState,
              createdAt: toIso(latest.created_at),
            }
          : undefined,
        ...extras.get(row.id)!,
      };
    });
    return { items, totalCount: Number(countRow?.count ?? 0) };
  }

  /**
   * Sets fields of a model and recomputes its search text; `updated_at` is
   * set unless `touch` is false. `expectedUpdatedAt` makes it fail with 409
   * when the model changed since it was read; 404 when it does not exist.
   * `catalog` records the catalog sync's marks (catalogSync).
   */
  async updateModel(
    trx: Knex.Transaction | undefined,
    options: {
      modelId: string;
      patch: ModelFieldsPatch;
      expectedUpdatedAt?: string;
      touch?: boolean;
      catalog?: {
        hash?: string;
        seenAt?: Date;
        notifiedAt?: Date;
        /** Clears `orphaned_at` (the entity is back in the catalog). */
        restore?: boolean;
      };
      now?: Date;
    },
  ): Promise<void> {
    const { patch, catalog } = options;
    const now = options.now ?? new Date();
    await inTransaction(this.db, trx, async tx => {
      const row = await tx('models').where({ id: options.modelId }).first();
      if (!row) {
        throw new NotFoundError('Model not found');
      }
      if (
        options.expectedUpdatedAt &&
        toMillis(row.updated_at) !== Date.parse(options.expectedUpdatedAt)
      ) {
        throw new ConflictError(
          `Model ${row.entity_ref} was changed concurrently; reload it and try again`,
        );
      }
      const tags = patch.tags
        ? [...new Set(patch.tags)]
        : (JSON.parse(row.tags || '[]') as string[]);
      const title = patch.title === undefined ? row.title : patch.title;
      const description =
        patch.description === undefined ? row.description : patch.description;
      const values: Record<string, unknown> = {};
      for (const key of [
        'title',
        'description',
        'type',
        'task',
        'format',
        'license',
        'lifecycle',
        'owner',
        'system',
      ] as const) {
        if (patch[key] !== undefined) {
          values[key] = patch[key];
        }
      }
      if (patch.sourceType !== undefined) {
        values.source_type = patch.sourceType;
      }
      if (patch.source !== undefined) {
        values.source =
          patch.source === null ? null : JSON.stringify(patch.source);
      }
      const tagsChanged =
        patch.tags !== undefined && JSON.stringify(tags) !== row.tags;
      if (patch.tags) {
        values.tags = JSON.stringify(tags);
      }
      values.search_text = searchText(row.name, title, description, tags);
      if (catalog?.hash !== undefined) {
        values.catalog_hash = catalog.hash;
      }
      if (catalog?.seenAt) {
        values.catalog_seen_at = catalog.seenAt;
      }
      if (catalog?.notifiedAt) {
        values.catalog_notified_at = catalog.notifiedAt;
      }
      if (catalog?.restore) {
        values.orphaned_at = null;
      }
      if (options.touch !== false) {
        values.updated_at = now;
      }
      await tx('models').where({ id: options.modelId }).update(values);
      if (tagsChanged) {
        await replaceTags(tx, options.modelId, tags);
      }
    });
  }

  /** Sets `updated_at` of a model (a version or file of it changed). */
  async touchModel(
    trx: Knex.Transaction | undefined,
    modelId: string,
    now: Date = new Date(),
  ): Promise<void> {
    await (trx ?? this.db)('models')
      .where({ id: modelId })
      .update({ updated_at: now });
  }

  /** Records the model source (issue 22) of a model. */
  async setSourceName(
    trx: Knex.Transaction | undefined,
    modelId: string,
    source: string,
  ): Promise<void> {
    await (trx ?? this.db)('models')
      .where({ id: modelId })
      .update({ source_name: source });
  }

  /** Records a local source on the models its scan created (no source yet). */
  async stampScannedSource(source: string): Promise<void> {
    await this.db('models')
      .whereNull('source_name')
      .where('source_type', 'upload')
      .where('source', 'like', '%"scannedFrom"%')
      .update({ source_name: source });
  }

  /** Sets the catalog sync's marks of a catalog-defined model by its ref. */
  async setCatalogMarks(
    trx: Knex.Transaction | undefined,
    entityRefs: string[],
    marks: { hash?: string; seenAt?: Date; notifiedAt?: Date },
  ): Promise<void> {
    const values: Record<string, unknown> = {};
    if (marks.hash !== undefined) {
      values.catalog_hash = marks.hash;
    }
    if (marks.seenAt) {
      values.catalog_seen_at = marks.seenAt;
    }
    if (marks.notifiedAt) {
      values.catalog_notified_at = marks.notifiedAt;
    }
    for (let i = 0; i < entityRefs.length; i += 500) {
      await (trx ?? this.db)('models')
        .whereIn('entity_ref', entityRefs.slice(i, i + 500))
        .where({ created_by: 'catalog' })
        .update(values);
    }
  }

  /** Marks a catalog-defined model orphaned; false when it already was. */
  async orphanModel(modelId: string, at: Date): Promise<boolean> {
    const updated = await this.db('models')
      .where({ id: modelId })
      .whereNull('orphaned_at')
      .update({ orphaned_at: at, updated_at: at });
    return updated > 0;
  }

  /**
   * Deletes a model and its tags (its versions, files and jobs are deleted
   * by their owners, or by cascade); the number of models deleted.
   */
  async deleteModel(
    trx: Knex.Transaction | undefined,
    modelId: string,
  ): Promise<number> {
    return inTransaction(this.db, trx, async tx => {
      await tx('model_tags').where({ model_id: modelId }).delete();
      return tx('models').where({ id: modelId }).delete();
    });
  }
}
