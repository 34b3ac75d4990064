import { Knex } from 'knex';
import { toIso } from '../database/rows';
import {
  ModelCondition,
  whereReadableModel,
} from '../database/modelReadFilter';

/** An entry of the audit trail as the audit search answers it. @internal */
export type AuditEntry = {
  id: number;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  meta: Record<string, unknown>;
  createdAt: string;
};

/** Filters of the audit search; every given filter must hold. @internal */
export type AuditFilter = {
  /** Entity refs of actors (any of them). */
  actor?: string[];
  /** Entity refs of models (any of them). */
  model?: string[];
  /** Event ids (any of them). */
  event?: string[];
  /** Entries created at or after. */
  from?: Date;
  /** Entries created before. */
  before?: Date;
  /** Only entries of models the caller may read, and entries of no model. */
  readable?: ModelCondition;
};

function parseMeta(value: unknown): Record<string, unknown> {
  if (typeof value !== 'string' || !value) {
    return {};
  }
  try {
    const parsed = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? parsed
      : {};
  } catch {
    return {};
  }
}

/** Values as given and lower-cased: the trail stores refs as callers gave them. */
function spellings(values: string[]): string[] {
  return [...new Set(values.flatMap(v => [v, v.toLocaleLowerCase('en-US')]))];
}

/**
 * The search of the hub's audit trail (`audit_events`): filters by actor,
 * model, event and date, pages newest (or oldest) first, and reads the
 * whole result in id order for the CSV export.
 *
 * @internal
 */
export class AuditSearch {
  constructor(private readonly db: Knex) {}

  private filtered(filter: AuditFilter): Knex.QueryBuilder {
    const query = this.db('audit_events');
    if (filter.actor?.length) {
      query.whereIn('actor', spellings(filter.actor));
    }
    if (filter.model?.length) {
      query.whereIn('model_ref', spellings(filter.model));
    }
    if (filter.event?.length) {
      query.whereIn('event_id', filter.event);
    }
    if (filter.from) {
      query.where('created_at', '>=', filter.from);
    }
    if (filter.before) {
      query.where('created_at', '<', filter.before);
    }
    whereReadableModel(query, this.db, filter.readable, {
      column: 'model_ref',
      key: 'entity_ref',
      keepUnowned: true,
    });
    return query;
  }

  private map(row: any): AuditEntry {
    return {
      id: Number(row.id),
      eventId: row.event_id,
      actor: row.actor,
      ...(row.model_ref && { modelRef: row.model_ref }),
      ...(row.version_label && { versionLabel: row.version_label }),
      meta: parseMeta(row.meta),
      createdAt: toIso(row.created_at),
    };
  }

  /** A page of matching entries and how many match. */
  async search(
    filter: AuditFilter,
    page: { offset: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<{ items: AuditEntry[]; totalCount: number }> {
    const [count, rows] = await Promise.all([
      this.filtered(filter).count({ count: '*' }).first(),
      this.filtered(filter)
        .select('*')
        .orderBy('id', page.order)
        .offset(page.offset)
        .limit(page.limit),
    ]);
    return {
      items: rows.map((r: any) => this.map(r)),
      totalCount: Number(count?.count ?? 0),
    };
  }

  /**
   * Every matching entry, newest first, in batches (keyset paging by id,
   * so that entries written meanwhile neither repeat nor shift the pages),
   * at most `max`.
   */
  async *all(
    filter: AuditFilter,
    options: { max: number; batch?: number },
  ): AsyncGenerator<AuditEntry[]> {
    const batch = options.batch ?? 1000;
    let left = options.max;
    let beforeId: number | undefined;
    while (left > 0) {
      const query = this.filtered(filter).select('*');
      if (beforeId !== undefined) {
        query.where('id', '<', beforeId);
      }
      const rows = await query
        .orderBy('id', 'desc')
        .limit(Math.min(batch, left));
      if (!rows.length) {
        return;
      }
      const items = rows.map((r: any) => this.map(r));
      yield items;
      left -= items.length;
      beforeId = items[items.length - 1].id;
      if (rows.length < Math.min(batch, left + items.length)) {
        return;
      }
    }
  }

  /** The event ids present in the trail, for the event filter. */
  async eventIds(): Promise<string[]> {
    const rows = await this.db('audit_events')
      .distinct('event_id')
      .orderBy('event_id');
    return rows.map(r => r.event_id as string);
  }
}
