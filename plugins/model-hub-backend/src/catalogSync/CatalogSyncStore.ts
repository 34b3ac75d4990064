import { Knex } from 'knex';

/** The state of the catalog reconcile pass (`catalog_sync_state`). @internal */
export type CatalogSyncStateRow = {
  id: string;
  pass_started_at: Date | string | number | null;
  cursor: string | null;
  last_completed_at: Date | string | number | null;
  last_error: string | null;
  last_result: string | null;
  updated_at: Date | string | number;
};

/**
 * The owner of `catalog_sync_state` and `model_tombstones` (issue 21): the
 * reconcile pass's cursor, and the tombstones that tell the catalog entity
 * provider that a model was deleted.
 *
 * @internal
 */
export class CatalogSyncStore {
  constructor(private readonly db: Knex) {}

  async getState(id: string): Promise<CatalogSyncStateRow | undefined> {
    return this.db('catalog_sync_state').where({ id }).first();
  }

  /** Sets columns of the state row `id` (created when missing). */
  async saveState(id: string, values: Record<string, unknown>): Promise<void> {
    const now = new Date();
    await this.db('catalog_sync_state')
      .insert({ id, updated_at: now, ...values })
      .onConflict('id')
      .merge({ ...values, updated_at: now });
  }

  /** Records that the model `entityRef` was deleted (in the deleting transaction). */
  async addTombstone(
    trx: Knex.Transaction | undefined,
    entityRef: string,
    deletedAt: Date = new Date(),
  ): Promise<void> {
    await (trx ?? this.db)('model_tombstones')
      .insert({ entity_ref: entityRef, deleted_at: deletedAt })
      .onConflict('entity_ref')
      .merge();
  }

  /** Forgets the tombstone of a model that is created again. */
  async clearTombstone(
    entityRef: string,
    trx?: Knex.Transaction,
  ): Promise<void> {
    await (trx ?? this.db)('model_tombstones')
      .where({ entity_ref: entityRef })
      .delete();
  }
}
