import { LoggerService } from '@backstage/backend-plugin-api';
import { Router } from 'express';
import type {
  HubActivity,
  HubStatsPoint,
} from '@model-hub/backstage-plugin-model-hub-common';
import { z } from 'zod';
import { ModelHubStore } from '../../database/ModelHubStore';
import { RouteContext } from '../context';
import { parseInput } from '../validation';

const activityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

const historyQuery = z.object({
  days: z.coerce.number().int().min(1).max(365).default(30),
});

/**
 * Routes of the dashboard: the recent activity (the hub's audit trail) and
 * the daily storage and downloads history. Signed-in callers only.
 *
 * @internal
 */
export function addActivityRoutes(router: Router, ctx: RouteContext) {
  const { store } = ctx;

  router.get('/activity', async (req, res) => {
    await ctx.credentials(req);
    const { limit } = parseInput(activityQuery, req.query, 'query');
    res.json({
      items: await store.listAuditEvents({
        limit,
        readable: await ctx.readCondition(req),
      }),
    } satisfies { items: HubActivity[] });
  });

  router.get('/stats/history', async (req, res) => {
    await ctx.credentials(req);
    const { days } = parseInput(historyQuery, req.query, 'query');
    res.json({
      items: await store.getStatsHistory({ days }),
    } satisfies { items: HubStatsPoint[] });
  });
}

/**
 * Counts a download for the history; a failure is logged and never fails
 * the download itself.
 *
 * @internal
 */
export async function recordDownloadSafely(
  store: ModelHubStore,
  logger: LoggerService,
  bytes: number,
): Promise<void> {
  try {
    await store.recordDownload({ bytes });
  } catch (error) {
    logger.warn(`Could not record a download for the history: ${error}`);
  }
}
