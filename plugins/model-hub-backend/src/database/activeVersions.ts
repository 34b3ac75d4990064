import { Knex } from 'knex';
import { toIso } from './rows';
import type { VersionState } from '@model-hub/backstage-plugin-model-hub-common';

/**
 * The active (promoted) version of a model, as the approvals workflow
 * records it in `model_active_versions`. @internal
 */
export type ActiveVersionRecord = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/**
 * The one read of the active versions of models (`model_active_versions`
 * with the version's label and state), by model id. The table is written by
 * the approvals workflow only (`approvals/ActiveVersionsStore.ts`); the
 * models list, the approvals workflow and the mirror all read it here, and
 * the version a model serves is chosen from it by the approvals workflow
 * (`approvals/servedVersion.ts`).
 *
 * @internal
 */
export async function readActiveVersions(
  db: Knex,
  modelIds: string[],
): Promise<Map<string, ActiveVersionRecord>> {
  const result = new Map<string, ActiveVersionRecord>();
  for (let i = 0; i < modelIds.length; i += 500) {
    const rows = await db('model_active_versions as a')
      .join('model_versions as v', 'v.id', 'a.version_id')
      .whereIn('a.model_id', modelIds.slice(i, i + 500))
      .select(
        'a.model_id',
        'a.version_id',
        'v.label',
        'v.state',
        'a.promoted_by',
        'a.promoted_at',
      );
    for (const row of rows) {
      result.set(row.model_id, {
        versionId: row.version_id,
        label: row.label,
        state: row.state,
        promotedBy: row.promoted_by,
        promotedAt: toIso(row.promoted_at),
      });
    }
  }
  return result;
}
