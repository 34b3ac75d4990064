import {
  modelHubAdminPermission,
  modelHubSyncTriggerPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { NotFoundError } from '@backstage/errors';
import { Request, Router } from 'express';
import type {
  HubJob as ApiJob,
  HubStats,
  Page,
} from '@model-hub/backstage-plugin-model-hub-common';
import { HubJob } from '../../database/types';
import { RouteContext, principalKind, principalRef } from '../context';
import { collectGarbage } from '../ingest';
import {
  jobLogsQuery,
  jobParams,
  listJobsQuery,
  parseInput,
} from '../validation';

/** Routes of jobs, stats and administration. @internal */
export function addJobRoutes(router: Router, ctx: RouteContext) {
  const { store } = ctx;

  /** A job; a job of a model the caller may not read is not found. */
  async function requireJob(req: Request): Promise<HubJob> {
    const { id } = parseInput(jobParams, req.params, 'job id');
    const job = await store.getJob({ id });
    if (!job) {
      throw new NotFoundError(`Job ${id} not found`);
    }
    if (job.modelRef) {
      await ctx.assertReadable(req, job.modelRef, `Job ${id} not found`);
    }
    return job;
  }

  /** Jobs of a model are managed by those who may sync it, others by admins. */
  function authorizeJob(req: Request, job: HubJob) {
    return job.modelRef
      ? ctx
          .authorize(req, modelHubSyncTriggerPermission, job.modelRef)
          .catch(async error => {
            if (error.name !== 'NotAllowedError') {
              throw error;
            }
            return ctx.authorize(req, modelHubAdminPermission);
          })
      : ctx.authorize(req, modelHubAdminPermission);
  }

  router.get('/jobs', async (req, res) => {
    const credentials = await ctx.credentials(req);
    const q = parseInput(listJobsQuery, req.query, 'query');
    // what the caller may read, decided with their own credentials: the
    // list's filter, and which jobs' live signals they receive next
    const readable = await ctx.access.readCondition(credentials);
    if (principalKind(credentials) === 'user') {
      await ctx.options.jobSignals?.watch(principalRef(credentials), readable);
    }
    let modelId: string | undefined;
    if (q.model) {
      const model = await store.getModel({ entityRef: q.model });
      if (!model) {
        res.json({
          items: [],
          totalCount: 0,
          offset: q.offset,
          limit: q.limit,
        });
        return;
      }
      modelId = model.id;
    }
    const { items, totalCount } = await store.listJobs({
      offset: q.offset,
      limit: q.limit,
      state: q.state,
      type: q.type,
      modelId,
      readable,
    });
    res.json({
      items,
      totalCount,
      offset: q.offset,
      limit: q.limit,
    } satisfies Page<ApiJob>);
  });

  router.get('/jobs/:id', async (req, res) => {
    await ctx.credentials(req);
    res.json((await requireJob(req)) satisfies ApiJob);
  });

  router.get('/jobs/:id/logs', async (req, res) => {
    await ctx.credentials(req);
    const job = await requireJob(req);
    const q = parseInput(jobLogsQuery, req.query, 'query');
    res.json({
      items: await store.listJobLogs({
        jobId: job.id,
        afterId: q.after,
        limit: q.limit,
      }),
    });
  });

  for (const action of ['retry', 'cancel'] as const) {
    router.post(`/jobs/:id/${action}`, async (req, res) => {
      const job = await requireJob(req);
      const updated = await ctx.audited(
        req,
        {
          eventId: `job-${action}`,
          meta: { jobId: job.id, modelRef: job.modelRef ?? null } as any,
        },
        async () => {
          const credentials = await authorizeJob(req, job);
          const actor = principalRef(credentials);
          const result =
            action === 'retry'
              ? await store.retryJob({ id: job.id, actor })
              : await store.cancelJob({ id: job.id, actor });
          return { result, credentials };
        },
      );
      res.json(updated);
    });
  }

  router.get('/stats', async (req, res) => {
    await ctx.credentials(req);
    res.json(
      (await store.getStats({
        readable: await ctx.readCondition(req),
      })) satisfies HubStats,
    );
  });

  router.post('/admin/gc', async (req, res) => {
    const result = await ctx.audited(
      req,
      { eventId: 'store-gc', severityLevel: 'high', meta: {} },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        const collected = await collectGarbage({
          store,
          artifacts: ctx.options.artifacts,
          gracePeriodMs: ctx.options.gcGracePeriodMs,
        });
        return { result: collected, credentials, meta: collected };
      },
    );
    res.json(result);
  });
}
