import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { toOptionalIso } from '../database/rows';
import { DriftPolicy, DriftStatus, DriftVersionInfo } from './driftInfo';

/** A drift version waiting for its files, with its model and label. @internal */
export type AwaitingDriftVersion = {
  id: string;
  commit: string;
  previous_commit: string | null;
  label: string;
  entity_ref: string;
};

/**
 * The store of the drift versions of Hugging Face repos (`hf_drift_versions`):
 * the only writer of that table.
 *
 * @internal
 */
export class DriftVersionsStore {
  constructor(private readonly db: Knex) {}

  /** Whether a drift version was recorded for a version. */
  async hasVersion(versionId: string): Promise<boolean> {
    const existing = await this.db('hf_drift_versions')
      .where({ version_id: versionId })
      .first('id');
    return Boolean(existing);
  }

  /** Records the drift version of a version; returns its id. */
  async insert(options: {
    modelId: string;
    versionId: string;
    commit: string;
    previousCommit: string;
    baseVersionId?: string;
    policy: DriftPolicy;
    status: DriftStatus;
  }): Promise<string> {
    const now = new Date();
    const id = randomUUID();
    await this.db('hf_drift_versions').insert({
      id,
      model_id: options.modelId,
      version_id: options.versionId,
      commit: options.commit,
      previous_commit: options.previousCommit,
      base_version_id: options.baseVersionId ?? null,
      policy: options.policy,
      status: options.status,
      detail: null,
      created_at: now,
      updated_at: now,
    });
    return id;
  }

  /** Sets the status of a drift version (and its detail, cut at 4000 chars). */
  async setStatus(id: string, status: DriftStatus, detail?: string) {
    await this.db('hf_drift_versions')
      .where({ id })
      .update({
        status,
        detail: detail?.slice(0, 4000) ?? null,
        updated_at: new Date(),
      });
  }

  /** Sets the detail of a drift version, as given. */
  async setDetail(id: string, detail: string) {
    await this.db('hf_drift_versions')
      .where({ id })
      .update({ detail, updated_at: new Date() });
  }

  /** The drift versions waiting for their files, oldest first (100 at most). */
  async listAwaitingFiles(
    filter: { versionId?: string } = {},
  ): Promise<AwaitingDriftVersion[]> {
    const query = this.db('hf_drift_versions as d')
      .join('model_versions as v', 'v.id', 'd.version_id')
      .join('models as m', 'm.id', 'd.model_id')
      .where('d.status', 'awaiting_files')
      .select(
        'd.id',
        'd.commit',
        'd.previous_commit',
        'v.label',
        'm.entity_ref',
      )
      .orderBy('d.created_at')
      .limit(100);
    if (filter.versionId) {
      query.where('d.version_id', filter.versionId);
    }
    return await query;
  }

  /** The newest drift version of a model. */
  async latest(modelId: string): Promise<DriftVersionInfo | undefined> {
    const row = await this.db('hf_drift_versions as d')
      .join('model_versions as v', 'v.id', 'd.version_id')
      .leftJoin('model_versions as b', 'b.id', 'd.base_version_id')
      .where('d.model_id', modelId)
      .orderBy([
        { column: 'd.created_at', order: 'desc' },
        { column: 'd.id', order: 'desc' },
      ])
      .first('d.*', 'v.label', 'v.state', 'b.label as base_label');
    if (!row) {
      return undefined;
    }
    return {
      label: row.label,
      state: row.state,
      commit: row.commit,
      ...(row.previous_commit && { previousCommit: row.previous_commit }),
      ...(row.base_label && { baseLabel: row.base_label }),
      policy: row.policy,
      status: row.status,
      ...(row.detail && { detail: row.detail }),
      createdAt: toOptionalIso(row.created_at)!,
      updatedAt: toOptionalIso(row.updated_at)!,
    };
  }
}
