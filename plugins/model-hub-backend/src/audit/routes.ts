import { InputError, NotAllowedError } from '@backstage/errors';
import {
  modelHubAdminPermission,
  modelHubAuditReadPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import { Knex } from 'knex';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import { ModelHubFeature } from '../service/feature';
import { entityRef, listParam, parseInput } from '../service/validation';
import { AuditEntry, AuditFilter, AuditSearch } from './AuditSearch';

/** The most rows one CSV export holds. @internal */
export const MAX_EXPORT_ROWS = 100_000;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const dateParam = z
  .string()
  .max(40)
  .refine(
    v => (DATE_ONLY.test(v) || DATE_TIME.test(v)) && !isNaN(Date.parse(v)),
    'must be an ISO 8601 date (2026-12-02) or date-time (2026-12-02T10:00:00Z)',
  )
  .optional();

const filterShape = {
  actor: listParam(entityRef('user')),
  model: listParam(entityRef('model')),
  event: listParam(
    z
      .string()
      .max(64)
      .regex(/^[a-z0-9][a-z0-9.:_-]*$/, 'must be an event id'),
  ),
  from: dateParam,
  to: dateParam,
};

const searchQuery = z.strictObject({
  ...filterShape,
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  order: z.enum(['asc', 'desc']).default('desc'),
});

const exportQuery = z.strictObject(filterShape);

/**
 * The date filters as a half-open range: `from` inclusive, `to` inclusive
 * (a date means the whole UTC day).
 */
function dateRange(q: { from?: string; to?: string }): {
  from?: Date;
  before?: Date;
} {
  const from = q.from ? new Date(q.from) : undefined;
  let before: Date | undefined;
  if (q.to) {
    const to = new Date(q.to);
    before = new Date(to.getTime() + (DATE_ONLY.test(q.to) ? 86_400_000 : 1));
  }
  if (from && before && from >= before) {
    throw new InputError(
      `Invalid query: from (${q.from}) is after to (${q.to})`,
    );
  }
  return { from, before };
}

/** A CSV cell: quoted when needed; formulas are defused with a quote. */
export function csvCell(value: unknown): string {
  let text = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = [
  'id',
  'createdAt',
  'eventId',
  'actor',
  'modelRef',
  'versionLabel',
  'meta',
] as const;

function csvRow(entry: AuditEntry): string {
  return `${[
    entry.id,
    entry.createdAt,
    entry.eventId,
    entry.actor,
    entry.modelRef,
    entry.versionLabel,
    JSON.stringify(entry.meta),
  ]
    .map(csvCell)
    .join(',')}\r\n`;
}

/**
 * Routes of the audit page: `GET /audit` (search), `GET /audit/export`
 * (CSV) and `GET /audit/events` (the event ids for the filter). They need
 * `model-hub.audit.read` or `model-hub.admin`; entries of models the caller
 * may not read stay hidden. Exports are audited (`audit-export`).
 *
 * @internal
 */
export function addAuditRoutes(router: Router, ctx: RouteContext, db: Knex) {
  const search = new AuditSearch(db);

  async function authorizeAuditRead(req: Request) {
    await ctx.credentials(req);
    if (
      !(await ctx.isAllowed(req, modelHubAuditReadPermission)) &&
      !(await ctx.isAllowed(req, modelHubAdminPermission))
    ) {
      throw new NotAllowedError(
        `Not allowed: ${modelHubAuditReadPermission.name}`,
      );
    }
  }

  async function filterOf(
    req: Request,
    q: z.output<typeof exportQuery>,
  ): Promise<AuditFilter> {
    return {
      actor: q.actor,
      model: q.model,
      event: q.event,
      ...dateRange(q),
      readable: await ctx.readCondition(req),
    };
  }

  router.get('/audit', async (req, res) => {
    await authorizeAuditRead(req);
    const q = parseInput(searchQuery, req.query, 'query');
    const { items, totalCount } = await search.search(await filterOf(req, q), {
      offset: q.offset,
      limit: q.limit,
      order: q.order,
    });
    res.json({ items, totalCount, offset: q.offset, limit: q.limit });
  });

  router.get('/audit/events', async (req, res) => {
    await authorizeAuditRead(req);
    res.json({ items: await search.eventIds() });
  });

  router.get('/audit/export', async (req, res) => {
    const q = parseInput(exportQuery, req.query, 'query');
    const filter = await ctx.audited(
      req,
      {
        eventId: 'audit-export',
        severityLevel: 'medium',
        meta: {
          filter: {
            ...(q.actor && { actor: q.actor }),
            ...(q.model && { model: q.model }),
            ...(q.event && { event: q.event }),
            ...(q.from && { from: q.from }),
            ...(q.to && { to: q.to }),
          },
        },
      },
      async () => {
        await authorizeAuditRead(req);
        return {
          result: await filterOf(req, q),
          credentials: await ctx.credentials(req),
        };
      },
    );
    const { totalCount } = await search.search(filter, {
      offset: 0,
      limit: 1,
      order: 'desc',
    });
    const name = ['model-hub-audit', q.from?.slice(0, 10), q.to?.slice(0, 10)]
      .filter(Boolean)
      .join('-');
    res.status(200);
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${name}.csv"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Total-Count', String(totalCount));
    if (totalCount > MAX_EXPORT_ROWS) {
      res.setHeader('X-Truncated', 'true');
    }
    res.write(`${CSV_COLUMNS.join(',')}\r\n`);
    try {
      for await (const batch of search.all(filter, { max: MAX_EXPORT_ROWS })) {
        if (res.destroyed) {
          return;
        }
        if (!res.write(batch.map(csvRow).join(''))) {
          await new Promise<void>(resolve => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
      res.end();
    } catch (error) {
      // the status is sent: cut the response so the client sees a failure
      ctx.options.logger.error('Audit export failed', error as Error);
      res.destroy(error as Error);
    }
  });
}

/** The audit search as a feature: `GET /audit`, `/audit/export`, `/audit/events`. @internal */
export function createAuditFeature(db: Knex): ModelHubFeature {
  return {
    id: 'audit',
    routes: [(router, ctx) => addAuditRoutes(router, ctx, db)],
  };
}
