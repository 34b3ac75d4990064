import type {
  ModelHubFeedItem,
  ModelHubFeedPage,
} from '@model-hub/backstage-plugin-model-hub-common';
import { whereReadableModel } from '../database/modelReadFilter';
import { Router } from 'express';
import { Knex } from 'knex';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import { parseInput } from '../service/validation';

type DbDate = Date | string | number;

function toDate(value: DbDate): Date {
  if (value instanceof Date) {
    return value;
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value));
  }
  return new Date(value);
}

function parseJson(value: string | null): any {
  try {
    return value ? JSON.parse(value) : undefined;
  } catch {
    return undefined;
  }
}

const feedQuery = z.object({
  /** Only models changed at or after this time (a delta). */
  since: z.iso.datetime().optional(),
  /** Keyset cursor of the next page. */
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  return Array.isArray(value) ? value.filter(v => typeof v === 'string') : [];
}

/**
 * `GET /entity-feed`: the models the catalog entity provider emits (every
 * hub model except those defined in the catalog itself), paged by a keyset
 * cursor, with their Hugging Face sync state; with `since`, only models
 * changed since then and the refs of models deleted since then. `now` is
 * the `since` of the next delta.
 *
 * @internal
 */
export function addEntityFeedRoutes(router: Router, ctx: RouteContext, db: Knex) {
  router.get('/entity-feed', async (req, res) => {
    // the catalog's provider reads it with a service token (every model);
    // a user reads the models they may read
    const readable = await ctx.readCondition(req);
    const q = parseInput(feedQuery, req.query, 'query');
    const now = new Date();
    let after: { t: Date; id: string } | undefined;
    if (q.cursor) {
      try {
        const c = JSON.parse(Buffer.from(q.cursor, 'base64url').toString());
        after = { t: new Date(c.t), id: String(c.id) };
      } catch {
        after = undefined;
      }
    }
    const query = db('models as m')
      .leftJoin('hf_repos as r', 'r.model_id', 'm.id')
      .whereNot('m.created_by', 'catalog')
      .select(
        'm.*',
        'r.repo_id as hf_repo_id',
        'r.revision as hf_revision',
        'r.last_synced_commit as hf_last_synced_commit',
        'r.upstream_commit as hf_upstream_commit',
        'r.drift as hf_drift',
        'r.gated as hf_gated',
        'r.card_data as hf_card_data',
        'r.updated_at as hf_updated_at',
      );
    whereReadableModel(query, db, readable, { column: 'm.id', key: 'id' });
    if (q.since) {
      const since = new Date(q.since);
      query.where(w =>
        w.where('m.updated_at', '>=', since).orWhere('r.updated_at', '>=', since),
      );
    }
    if (after) {
      query.where(w =>
        w
          .where('m.updated_at', '>', after!.t)
          .orWhere(ww => ww.where('m.updated_at', '=', after!.t).where('m.id', '>', after!.id)),
      );
    }
    const rows = await query
      .orderBy([
        { column: 'm.updated_at', order: 'asc' },
        { column: 'm.id', order: 'asc' },
      ])
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const items: ModelHubFeedItem[] = page.map((r: any) => {
      const card = parseJson(r.hf_card_data) ?? {};
      return {
        entityRef: r.entity_ref,
        namespace: r.namespace,
        name: r.name,
        title: r.title ?? undefined,
        description: r.description ?? undefined,
        type: r.type,
        task: r.task ?? undefined,
        format: r.format ?? undefined,
        license: r.license ?? undefined,
        lifecycle: r.lifecycle,
        owner: r.owner,
        sourceType: r.source_type,
        source: parseJson(r.source),
        tags: parseJson(r.tags) ?? [],
        updatedAt: toDate(r.updated_at).toISOString(),
        ...(r.hf_repo_id && {
          huggingface: {
            repoId: r.hf_repo_id,
            revision: r.hf_revision,
            lastSyncedCommit: r.hf_last_synced_commit ?? undefined,
            upstreamCommit: r.hf_upstream_commit ?? undefined,
            drift: Boolean(r.hf_drift),
            gated: r.hf_gated ?? undefined,
            baseModels: asStrings(card.base_model),
            datasets: asStrings(card.datasets),
          },
        }),
      };
    });
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > q.limit && last
        ? Buffer.from(
            JSON.stringify({ t: toDate(last.updated_at).toISOString(), id: last.id }),
          ).toString('base64url')
        : undefined;
    const removed =
      q.since && readable.op === 'all'
      ? (
          await db('model_tombstones')
            .where('deleted_at', '>=', new Date(q.since))
            .select('entity_ref')
        ).map(r => r.entity_ref as string)
      : [];
    res.json({
      items,
      removed,
      nextCursor,
      now: now.toISOString(),
    } satisfies ModelHubFeedPage);
  });
}
