import { ConflictError, NotFoundError } from '@backstage/errors';
import type { VersionState } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';

/** A deprecated version the retention policy archives. */
export type VersionToArchive = {
  modelRef: string;
  label: string;
  /** Beyond `keepDeprecated`, or deprecated longer than `archiveAfter`. */
  reason: 'count' | 'age';
};

/** Fields of an API-created model that `PATCH /models/{ns}/{name}` sets. */
export type ModelPatch = {
  title?: string | null;
  description?: string | null;
  type?: string;
  task?: string | null;
  format?: string | null;
  license?: string | null;
  lifecycle?: string;
  owner?: string;
  system?: string | null;
  tags?: string[];
};

/**
 * Decrements the references of the blobs of the given files (one per file
 * row) and deletes the rows; the garbage collection removes a blob once it
 * has been unreferenced for its grace period.
 */
async function releaseFiles(
  tx: Knex.Transaction,
  fileQuery: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
  now: Date,
): Promise<{ files: number; bytes: number }> {
  const counts = (await fileQuery(tx('version_files as f'))
    .groupBy('f.sha256')
    .select('f.sha256')
    .count({ n: '*' })
    .sum({ bytes: 'f.size' })) as Array<{
    sha256: string;
    n: number | string;
    bytes: number | string | null;
  }>;
  let files = 0;
  let bytes = 0;
  for (const c of counts) {
    files += Number(c.n);
    bytes += Number(c.bytes ?? 0);
    await tx('blobs')
      .where({ sha256: c.sha256 })
      .update({
        ref_count: tx.raw('ref_count - ?', [Number(c.n)]),
        last_referenced_at: now,
      });
  }
  return { files, bytes };
}

/**
 * Deletion, metadata edits and retention of models and versions, on SQLite
 * and PostgreSQL. Every delete releases the blob references of the files it
 * removes, in the same transaction, so the blobs go to the garbage
 * collection.
 *
 * @internal
 */
export class ModelLifecycleStore {
  constructor(private readonly db: Knex) {}

  /**
   * Deletes a version with its files, reviews, checks and comments, if it
   * is still in one of `states` (409 otherwise: it changed concurrently).
   */
  async deleteVersion(options: {
    versionId: string;
    states: readonly VersionState[];
  }): Promise<{ files: number; bytes: number }> {
    const now = new Date();
    return this.db.transaction(async tx => {
      const version = await tx('model_versions')
        .where({ id: options.versionId })
        .first('id', 'label', 'state', 'model_id');
      if (!version) {
        throw new NotFoundError('Version not found');
      }
      if (!options.states.includes(version.state)) {
        throw new ConflictError(
          `Version ${version.label} is ${version.state} and cannot be deleted`,
        );
      }
      const released = await releaseFiles(
        tx,
        q => q.where('f.version_id', options.versionId),
        now,
      );
      // explicit, not only by cascade: SQLite enforces foreign keys only
      // when the connection enables them
      await tx('version_files')
        .where({ version_id: options.versionId })
        .delete();
      const deleted = await tx('model_versions')
        .where({ id: options.versionId, state: version.state })
        .delete();
      if (!deleted) {
        throw new ConflictError(
          `Version ${version.label} was changed concurrently; reload it and try again`,
        );
      }
      await tx('models')
        .where({ id: version.model_id })
        .update({ updated_at: now });
      return released;
    });
  }

  /**
   * Deletes a model with its versions, files and jobs; a tombstone tells the
   * catalog entity provider to remove its entity.
   */
  async deleteModel(options: {
    modelId: string;
    entityRef: string;
  }): Promise<{ versions: number; files: number; bytes: number }> {
    const now = new Date();
    return this.db.transaction(async tx => {
      const versions = await tx('model_versions')
        .where({ model_id: options.modelId })
        .count({ n: '*' })
        .first();
      const released = await releaseFiles(
        tx,
        q =>
          q
            .join('model_versions as v', 'v.id', 'f.version_id')
            .where('v.model_id', options.modelId),
        now,
      );
      await tx('version_files')
        .whereIn(
          'version_id',
          tx('model_versions')
            .where({ model_id: options.modelId })
            .select('id'),
        )
        .delete();
      await tx('jobs').where({ model_id: options.modelId }).delete();
      await tx('model_versions').where({ model_id: options.modelId }).delete();
      const deleted = await tx('models')
        .where({ id: options.modelId })
        .delete();
      if (!deleted) {
        throw new NotFoundError(`Model ${options.entityRef} not found`);
      }
      await tx('model_tombstones')
        .insert({ entity_ref: options.entityRef, deleted_at: now })
        .onConflict('entity_ref')
        .merge();
      return { versions: Number(versions?.n ?? 0), ...released };
    });
  }

  /**
   * Sets metadata of a model; `expectedUpdatedAt` (optional) makes it fail
   * with 409 when the model changed since it was read.
   */
  async updateModel(options: {
    modelId: string;
    patch: ModelPatch;
    expectedUpdatedAt?: string;
  }): Promise<void> {
    const { patch } = options;
    const now = new Date();
    await this.db.transaction(async tx => {
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
      const values: Record<string, unknown> = { updated_at: now };
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
      if (patch.tags) {
        values.tags = JSON.stringify(tags);
      }
      values.search_text = [row.name, title ?? '', description ?? '', ...tags]
        .join(' ')
        .toLocaleLowerCase('en-US');
      await tx('models').where({ id: options.modelId }).update(values);
      if (patch.tags) {
        await tx('model_tags').where({ model_id: options.modelId }).delete();
        if (tags.length) {
          await tx('model_tags').insert(
            tags.map(tag => ({ model_id: options.modelId, tag })),
          );
        }
      }
    });
  }

  /**
   * Deprecated versions the retention policy archives: beyond the newest
   * `keepDeprecated` of their model (by the time they were deprecated), or
   * deprecated before `deprecatedBefore`.
   */
  async listVersionsToArchive(options: {
    keepDeprecated?: number;
    deprecatedBefore?: Date;
  }): Promise<VersionToArchive[]> {
    const rows = (await this.db('model_versions as v')
      .join('models as m', 'm.id', 'v.model_id')
      .where('v.state', 'deprecated')
      .select('v.model_id', 'm.entity_ref', 'v.label', 'v.updated_at')
      .orderBy([
        { column: 'v.model_id', order: 'asc' },
        { column: 'v.updated_at', order: 'desc' },
        { column: 'v.created_at', order: 'desc' },
        { column: 'v.id', order: 'desc' },
      ])) as Array<{
      model_id: string;
      entity_ref: string;
      label: string;
      updated_at: Date | string | number;
    }>;
    const out: VersionToArchive[] = [];
    const seen = new Map<string, number>();
    for (const row of rows) {
      const index = seen.get(row.model_id) ?? 0;
      seen.set(row.model_id, index + 1);
      if (
        options.keepDeprecated !== undefined &&
        index >= options.keepDeprecated
      ) {
        out.push({
          modelRef: row.entity_ref,
          label: row.label,
          reason: 'count',
        });
      } else if (
        options.deprecatedBefore &&
        toMillis(row.updated_at) < options.deprecatedBefore.getTime()
      ) {
        out.push({ modelRef: row.entity_ref, label: row.label, reason: 'age' });
      }
    }
    return out;
  }

  /** Archived versions that still have files. */
  async listArchivedVersionsWithFiles(): Promise<
    Array<{ versionId: string; modelRef: string; label: string }>
  > {
    const rows = await this.db('model_versions as v')
      .join('models as m', 'm.id', 'v.model_id')
      .where('v.state', 'archived')
      .whereExists(q =>
        q
          .select(this.db.raw('1'))
          .from('version_files as f')
          .whereRaw('f.version_id = v.id'),
      )
      .select('v.id', 'm.entity_ref', 'v.label');
    return rows.map(r => ({
      versionId: r.id,
      modelRef: r.entity_ref,
      label: r.label,
    }));
  }

  /**
   * Removes the files of an archived version and releases their blobs; the
   * version row, its reviews and its history stay.
   */
  async releaseArchivedFiles(options: {
    versionId: string;
  }): Promise<{ files: number; bytes: number }> {
    const now = new Date();
    return this.db.transaction(async tx => {
      const version = await tx('model_versions')
        .where({ id: options.versionId, state: 'archived' })
        .first('id');
      if (!version) {
        return { files: 0, bytes: 0 };
      }
      const released = await releaseFiles(
        tx,
        q => q.where('f.version_id', options.versionId),
        now,
      );
      await tx('version_files')
        .where({ version_id: options.versionId })
        .delete();
      await tx('model_versions')
        .where({ id: options.versionId })
        .update({ updated_at: now, revision: tx.raw('revision + 1') });
      return released;
    });
  }
}

function toMillis(value: Date | string | number): number {
  if (value instanceof Date) {
    return value.getTime();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return Number(value);
  }
  return Date.parse(value);
}
