import { Knex } from 'knex';
import { ModelCondition, whereReadableModel } from './modelReadFilter';
import {
  AuditEventOptions,
  HubAuditEvent,
  HubStatsPoint,
} from './ModelHubStore';
import { HubStats, VERSION_STATES, VersionState } from './types';
import { toIso } from './rows';

/**
 * The owner of `audit_events` and `download_counts` (issue 21): the hub's
 * activity, and the statistics read from every table.
 *
 * @internal
 */
export class ActivityStore {
  constructor(private readonly db: Knex) {}

  /** Records an audit event; in `trx` when it must commit with a change. */
  async addAuditEvent(
    options: AuditEventOptions,
    trx?: Knex.Transaction,
  ): Promise<void> {
    await (trx ?? this.db)('audit_events').insert({
      event_id: options.eventId,
      actor: options.actor,
      model_ref: options.modelRef ?? null,
      version_label: options.versionLabel ?? null,
      meta: JSON.stringify(options.meta ?? {}),
      created_at: new Date(),
    });
  }

  async listAuditEvents(options: {
    limit: number;
    readable?: ModelCondition;
  }): Promise<HubAuditEvent[]> {
    const query = this.db('audit_events');
    whereReadableModel(query, this.db, options.readable, {
      column: 'model_ref',
      key: 'entity_ref',
      keepUnowned: true,
    });
    const rows = await query
      .select(
        'id',
        'event_id',
        'actor',
        'model_ref',
        'version_label',
        'created_at',
      )
      .orderBy('id', 'desc')
      .limit(options.limit);
    return rows.map(r => ({
      id: Number(r.id),
      eventId: r.event_id,
      actor: r.actor,
      ...(r.model_ref && { modelRef: r.model_ref }),
      ...(r.version_label && { versionLabel: r.version_label }),
      status: 'succeeded' as const,
      createdAt: toIso(r.created_at),
    }));
  }

  /** Counts a download of `bytes` on its day. */
  async recordDownload(options: { bytes: number; at?: Date }): Promise<void> {
    const day = (options.at ?? new Date()).toISOString().slice(0, 10);
    await this.db('download_counts')
      .insert({ day, downloads: 0, bytes: 0 })
      .onConflict('day')
      .ignore();
    await this.db('download_counts')
      .where({ day })
      .increment({ downloads: 1, bytes: Math.max(0, options.bytes) });
  }

  async getStats(
    options: { readable?: ModelCondition } = {},
  ): Promise<HubStats> {
    const readable =
      options.readable && options.readable.op !== 'all'
        ? options.readable
        : undefined;
    const byModel = (
      qb: Knex.QueryBuilder,
      column: string,
      keepUnowned = false,
    ) => {
      whereReadableModel(qb, this.db, readable, {
        column,
        key: 'id',
        keepUnowned,
      });
      return qb;
    };
    // with a read restriction, the storage of the readable models' files
    // (each blob once); nothing about unreferenced blobs
    const readableBlobs = () =>
      this.db
        .from(
          byModel(
            this.db('version_files as f')
              .join('model_versions as v', 'v.id', 'f.version_id')
              .select('f.sha256')
              .max({ size: 'f.size' })
              .groupBy('f.sha256'),
            'v.model_id',
          ).as('rb'),
        )
        .count({ count: '*' })
        .sum({ bytes: 'rb.size' })
        .first();
    const [models, versionRows, blobs, unreferenced, jobRows] =
      await Promise.all([
        byModel(this.db('models as m'), 'm.id').count({ count: '*' }).first(),
        byModel(this.db('model_versions as v'), 'v.model_id')
          .select('v.state')
          .count({ count: '*' })
          .groupBy('v.state') as Promise<{ state: string; count: unknown }[]>,
        readable
          ? readableBlobs()
          : this.db('blobs')
              .count({ count: '*' })
              .sum({ bytes: 'size' })
              .first(),
        readable
          ? Promise.resolve({ count: 0 })
          : this.db('blobs')
              .where('ref_count', '<=', 0)
              .count({ count: '*' })
              .first(),
        byModel(this.db('jobs as j'), 'j.model_id', true)
          .select('j.state')
          .count({ count: '*' })
          .groupBy('j.state') as Promise<{ state: string; count: unknown }[]>,
      ]);
    const byState = Object.fromEntries(
      VERSION_STATES.map(s => [s, 0]),
    ) as Record<VersionState, number>;
    let total = 0;
    for (const row of versionRows) {
      byState[row.state as VersionState] = Number(row.count);
      total += Number(row.count);
    }
    const jobCount = (states: string[]) =>
      jobRows
        .filter(r => states.includes(String(r.state)))
        .reduce((sum, r) => sum + Number(r.count), 0);
    return {
      models: Number(models?.count ?? 0),
      versions: { total, byState },
      storage: {
        blobs: Number(blobs?.count ?? 0),
        bytes: Number(blobs?.bytes ?? 0),
        unreferencedBlobs: Number(unreferenced?.count ?? 0),
      },
      jobs: {
        active: jobCount(['queued', 'running']),
        failed: jobCount(['failed']),
      },
    };
  }

  async getStatsHistory(options: {
    days: number;
    now?: Date;
  }): Promise<HubStatsPoint[]> {
    const now = options.now ?? new Date();
    const today = Date.UTC(
      now.getUTCFullYear(),
      now.getUTCMonth(),
      now.getUTCDate(),
    );
    const DAY = 24 * 60 * 60 * 1000;
    const starts = Array.from(
      { length: options.days },
      (_, i) => today - (options.days - 1 - i) * DAY,
    );
    const dates = starts.map(t => new Date(t).toISOString().slice(0, 10));
    // one pass over the blobs: the bytes created before the end of each day
    const sums = starts.map(
      (t, i) =>
        [
          `sum(case when ?? < ? then ?? else 0 end) as ??`,
          ['created_at', new Date(t + DAY), 'size', `d${i}`],
        ] as const,
    );
    const [storage, counts] = await Promise.all([
      this.db('blobs')
        .select(sums.map(([sql, bindings]) => this.db.raw(sql, bindings)))
        .first(),
      this.db('download_counts')
        .whereBetween('day', [dates[0], dates[dates.length - 1]])
        .select('day', 'downloads', 'bytes'),
    ]);
    const byDay = new Map(counts.map(c => [c.day as string, c]));
    return dates.map((date, i) => ({
      date,
      storageBytes: Number(storage?.[`d${i}`] ?? 0),
      downloads: Number(byDay.get(date)?.downloads ?? 0),
      downloadBytes: Number(byDay.get(date)?.bytes ?? 0),
    }));
  }
}
