import { Knex } from 'knex';
import { ConflictError } from '@backstage/errors';
import { readActiveVersions } from '../database/activeVersions';
import { ActiveVersion, ActiveVersionChange } from './ApprovalsStore';
import { opt, toIso } from './rows';

/**
 * The owner of `model_active_versions` and `model_active_version_history`:
 * the active version of each model and how it changed. Every write takes the
 * caller's transaction, so that it is atomic with the version's state.
 *
 * @internal
 */
export class ActiveVersionsStore {
  constructor(private readonly db: Knex) {}

  /** The active version of a model (the one read, shared with REST and the mirror). */
  async get(
    modelId: string,
    tx: Knex = this.db,
  ): Promise<ActiveVersion | undefined> {
    return (await readActiveVersions(tx, [modelId])).get(modelId);
  }

  /**
   * Makes a version the active one: inserts the row when
   * `expectedVersionId` is null, else replaces `expectedVersionId` (a
   * conflict when that is no longer the active one); records the change.
   */
  async set(
    options: {
      modelId: string;
      versionId: string;
      expectedVersionId: string | null;
      action: 'promote' | 'rollback';
      actor: string;
      at: Date;
    },
    tx: Knex,
  ): Promise<void> {
    const row = {
      version_id: options.versionId,
      promoted_by: options.actor,
      promoted_at: options.at,
    };
    if (options.expectedVersionId === null) {
      await tx('model_active_versions').insert({
        model_id: options.modelId,
        ...row,
      });
    } else {
      const updated = await tx('model_active_versions')
        .where({
          model_id: options.modelId,
          version_id: options.expectedVersionId,
        })
        .update(row);
      if (!updated) {
        throw new ConflictError(
          'The active version was changed concurrently; reload and try again',
        );
      }
    }
    await this.record(tx, {
      modelId: options.modelId,
      versionId: options.versionId,
      action: options.action,
      actor: options.actor,
      at: options.at,
    });
  }

  /**
   * Makes a version the active one of a model that has none (an imported
   * version that was active on its portal); false when the model has one.
   */
  async promoteIfNone(
    options: { modelId: string; versionId: string; actor: string; at: Date },
    tx: Knex,
  ): Promise<boolean> {
    const active = await tx('model_active_versions')
      .where({ model_id: options.modelId })
      .first();
    if (active) {
      return false;
    }
    await tx('model_active_versions').insert({
      model_id: options.modelId,
      version_id: options.versionId,
      promoted_by: options.actor,
      promoted_at: options.at,
    });
    await this.record(tx, { ...options, action: 'promote' });
    return true;
  }

  /**
   * Stops a version being the active one of its model (it was rejected or
   * archived); true when it was.
   */
  async clear(
    options: { modelId: string; versionId: string; actor: string; at: Date },
    tx: Knex,
  ): Promise<boolean> {
    const removed = await tx('model_active_versions')
      .where({ version_id: options.versionId })
      .delete();
    if (!removed) {
      return false;
    }
    await this.record(tx, { ...options, versionId: null, action: 'clear' });
    return true;
  }

  private async record(
    tx: Knex,
    change: {
      modelId: string;
      versionId: string | null;
      action: ActiveVersionChange['action'];
      actor: string;
      at: Date;
    },
  ) {
    await tx('model_active_version_history').insert({
      model_id: change.modelId,
      version_id: change.versionId,
      action: change.action,
      actor: change.actor,
      created_at: change.at,
    });
  }

  /** The changes of a model's active version, newest first. */
  async listChanges(modelId: string): Promise<ActiveVersionChange[]> {
    const rows = await this.db('model_active_version_history as h')
      .leftJoin('model_versions as v', 'v.id', 'h.version_id')
      .where('h.model_id', modelId)
      .orderBy('h.id', 'desc')
      .select('h.id', 'v.label', 'h.action', 'h.actor', 'h.created_at');
    return rows.map(r => ({
      id: Number(r.id),
      label: opt(r.label),
      action: r.action,
      actor: r.actor,
      createdAt: toIso(r.created_at),
    }));
  }
}
