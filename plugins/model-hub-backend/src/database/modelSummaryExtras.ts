import { Knex } from 'knex';
import { readActiveVersions } from './activeVersions';
import { toIso } from './rows';
import type { VersionState } from '@model-hub/backstage-plugin-model-hub-common';

import type { SummaryActiveVersion, SummaryWorstState } from './types';

export type { SummaryActiveVersion, SummaryWorstState };

/**
 * How much a state needs attention, highest first. Rejected and archived
 * versions are settled and never the worst state.
 */
const STATE_RANK: Partial<Record<VersionState, number>> = {
  changes_requested: 5,
  in_review: 4,
  draft: 3,
  deprecated: 2,
  approved: 1,
};

/** A version of a page's model, as the models list reads them. @internal */
export type SummaryVersionRow = {
  id: string;
  model_id: string;
  label: string;
  state: string;
  created_at: Date | string | number;
};

/** What {@link summarizeModels} needs besides the versions. @internal */
export type SummaryExtrasRows = {
  /** The active versions by model id ({@link readActiveVersions}). */
  active: Map<string, SummaryActiveVersion>;
  failed: Array<{ version_id: string; name: string }>;
};

/**
 * The two queries behind `activeVersion` and `worstState` of a page of
 * models, which need only the page's model ids (so they run alongside the
 * query of the page's versions): the active versions (the one read of them,
 * {@link readActiveVersions}, as on a model's page and in the mirror), and
 * the failed (or errored) checks of unsettled versions without a waiver of
 * their current content.
 *
 * @internal
 */
export async function fetchSummaryExtras(
  db: Knex,
  modelIds: string[],
): Promise<SummaryExtrasRows> {
  if (!modelIds.length) {
    return { active: new Map(), failed: [] };
  }
  const [active, failed] = await Promise.all([
    readActiveVersions(db, modelIds),
    db('version_checks as c')
      .join('model_versions as v', 'v.id', 'c.version_id')
      .whereIn('v.model_id', modelIds)
      .whereIn('v.state', Object.keys(STATE_RANK))
      .whereIn('c.status', ['failed', 'error'])
      .whereNotExists(q =>
        q
          .select(db.raw('1'))
          .from('check_waivers as w')
          .whereRaw('w.version_id = c.version_id')
          .whereRaw('w.check_name = c.name')
          .where(b =>
            b
              .whereNull('w.content_digest')
              .orWhereRaw('w.content_digest = v.content_digest'),
          ),
      )
      .select('c.version_id', 'c.name')
      .orderBy('c.name'),
  ]);
  return { active, failed };
}

/**
 * The active version and the worst state of each model of a page, from
 * the page's versions and {@link fetchSummaryExtras}.
 *
 * @internal
 */
export function summarizeModels(
  modelIds: string[],
  versions: SummaryVersionRow[],
  rows: SummaryExtrasRows,
): Map<
  string,
  {
    activeVersion: SummaryActiveVersion | null;
    worstState: SummaryWorstState | null;
  }
> {
  const result = new Map<
    string,
    {
      activeVersion: SummaryActiveVersion | null;
      worstState: SummaryWorstState | null;
    }
  >(modelIds.map(id => [id, { activeVersion: null, worstState: null }]));
  for (const [modelId, active] of rows.active) {
    const entry = result.get(modelId);
    if (entry) {
      entry.activeVersion = active;
    }
  }
  const failedByVersion = new Map<string, string[]>();
  for (const c of rows.failed) {
    const list = failedByVersion.get(c.version_id) ?? [];
    list.push(c.name);
    failedByVersion.set(c.version_id, list);
  }
  const best = new Map<
    string,
    { key: [number, number, number]; worst: SummaryWorstState }
  >();
  for (const v of versions) {
    const rank = STATE_RANK[v.state as VersionState];
    if (rank === undefined) {
      continue; // rejected and archived versions are settled
    }
    const failedChecks = failedByVersion.get(v.id) ?? [];
    const key: [number, number, number] = [
      failedChecks.length ? 1 : 0,
      rank,
      new Date(toIso(v.created_at)).getTime(),
    ];
    const current = best.get(v.model_id);
    const greater =
      !current ||
      key[0] > current.key[0] ||
      (key[0] === current.key[0] &&
        (key[1] > current.key[1] ||
          (key[1] === current.key[1] && key[2] > current.key[2])));
    if (greater) {
      best.set(v.model_id, {
        key,
        worst: { label: v.label, state: v.state as VersionState, failedChecks },
      });
    }
  }
  for (const [modelId, { worst }] of best) {
    const entry = result.get(modelId);
    if (entry) {
      entry.worstState = worst;
    }
  }
  return result;
}

/**
 * The active version and the worst state of each of a page of models, on
 * their own (the models list runs {@link fetchSummaryExtras} alongside its
 * query of the page's versions instead).
 *
 * @internal
 */
export async function modelSummaryExtras(
  db: Knex,
  modelIds: string[],
): Promise<
  Map<
    string,
    {
      activeVersion: SummaryActiveVersion | null;
      worstState: SummaryWorstState | null;
    }
  >
> {
  const [versions, rows] = await Promise.all([
    modelIds.length
      ? db('model_versions')
          .whereIn('model_id', modelIds)
          .select('id', 'model_id', 'label', 'state', 'created_at')
      : Promise.resolve([] as SummaryVersionRow[]),
    fetchSummaryExtras(db, modelIds),
  ]);
  return summarizeModels(modelIds, versions, rows);
}
