import { Knex } from 'knex';
import { VersionState } from './types';

/** The active version of a model in the models list. @public */
export type SummaryActiveVersion = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/**
 * The version of a model that needs the most attention, for the models
 * list: a version with a failed check first, then by state. @public
 */
export type SummaryWorstState = {
  label: string;
  state: VersionState;
  /** Checks of the version that failed (or errored) and are not waived. */
  failedChecks: string[];
};

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

type DbDate = Date | string | number;

function toIso(value: DbDate): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value)).toISOString();
  }
  return new Date(value).toISOString();
}

/**
 * The active version and the worst state of each of a page of models, in
 * three queries (whatever the page size): the active versions, the versions
 * that are not settled, and their failed checks without a waiver of their
 * current content.
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
  const result = new Map<
    string,
    {
      activeVersion: SummaryActiveVersion | null;
      worstState: SummaryWorstState | null;
    }
  >(modelIds.map(id => [id, { activeVersion: null, worstState: null }]));
  if (!modelIds.length) {
    return result;
  }
  const [active, versions, failed] = await Promise.all([
    db('model_active_versions as a')
      .join('model_versions as v', 'v.id', 'a.version_id')
      .whereIn('a.model_id', modelIds)
      .select(
        'a.model_id',
        'a.version_id',
        'a.promoted_by',
        'a.promoted_at',
        'v.label',
        'v.state',
      ),
    db('model_versions')
      .whereIn('model_id', modelIds)
      .whereIn('state', Object.keys(STATE_RANK))
      .select('id', 'model_id', 'label', 'state', 'created_at'),
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
  for (const a of active) {
    result.get(a.model_id)!.activeVersion = {
      versionId: a.version_id,
      label: a.label,
      state: a.state,
      promotedBy: a.promoted_by,
      promotedAt: toIso(a.promoted_at),
    };
  }
  const failedByVersion = new Map<string, string[]>();
  for (const c of failed) {
    const list = failedByVersion.get(c.version_id) ?? [];
    list.push(c.name);
    failedByVersion.set(c.version_id, list);
  }
  const best = new Map<
    string,
    { key: [number, number, number]; worst: SummaryWorstState }
  >();
  for (const v of versions) {
    const failedChecks = failedByVersion.get(v.id) ?? [];
    const key: [number, number, number] = [
      failedChecks.length ? 1 : 0,
      STATE_RANK[v.state as VersionState] ?? 0,
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
        worst: { label: v.label, state: v.state, failedChecks },
      });
    }
  }
  for (const [modelId, { worst }] of best) {
    result.get(modelId)!.worstState = worst;
  }
  return result;
}
