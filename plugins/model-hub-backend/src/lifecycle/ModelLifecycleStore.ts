import { ConflictError, NotFoundError } from '@backstage/errors';
import type { VersionState } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { ModelFieldsPatch, ModelsStore } from '../database/ModelsStore';
import { VersionsStore } from '../database/VersionsStore';
import { FilesStore } from '../database/FilesStore';
import { JobStore } from '../jobs/JobStore';
import { CatalogSyncStore } from '../catalogSync/CatalogSyncStore';

/** A deprecated version the retention policy archives. */
export type VersionToArchive = {
  modelRef: string;
  label: string;
  /** Beyond `keepDeprecated`, or deprecated longer than `archiveAfter`. */
  reason: 'count' | 'age';
};

/** Fields of an API-created model that `PATCH /models/{ns}/{name}` sets. */
export type ModelPatch = Omit<ModelFieldsPatch, 'sourceType' | 'source'>;

/**
 * Deletion, metadata edits and retention of models and versions, on SQLite
 * and PostgreSQL. Every delete releases the blob references of the files it
 * removes, in the same transaction, so the blobs go to the garbage
 * collection.
 *
 * @internal
 */
export class ModelLifecycleStore {
  private readonly models: ModelsStore;
  private readonly versions: VersionsStore;
  private readonly files: FilesStore;
  private readonly jobs: JobStore;
  private readonly catalog: CatalogSyncStore;

  constructor(private readonly db: Knex) {
    this.models = new ModelsStore(db);
    this.versions = new VersionsStore(db);
    this.files = new FilesStore(db, this.versions);
    this.jobs = new JobStore(db);
    this.catalog = new CatalogSyncStore(db);
  }

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
      const released = await this.files.releaseFiles(
        tx,
        { versionId: options.versionId },
        now,
      );
      const deleted = await this.versions.deleteVersion(tx, {
        versionId: options.versionId,
        state: version.state,
      });
      if (!deleted) {
        throw new ConflictError(
          `Version ${version.label} was changed concurrently; reload it and try again`,
        );
      }
      await this.models.touchModel(tx, version.model_id, now);
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
      const released = await this.files.releaseFiles(
        tx,
        { modelId: options.modelId },
        now,
      );
      await this.jobs.deleteJobsOfModel(tx, options.modelId);
      await this.versions.deleteVersionsOfModel(tx, options.modelId);
      const deleted = await this.models.deleteModel(tx, options.modelId);
      if (!deleted) {
        throw new NotFoundError(`Model ${options.entityRef} not found`);
      }
      await this.catalog.addTombstone(tx, options.entityRef, now);
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
    await this.models.updateModel(undefined, {
      modelId: options.modelId,
      patch: options.patch,
      expectedUpdatedAt: options.expectedUpdatedAt,
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
      const released = await this.files.releaseFiles(
        tx,
        { versionId: options.versionId },
        now,
      );
      await this.versions.advanceRevision(tx, options.versionId, { now });
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
