import {
  ConflictError,
  InputError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Router } from 'express';
import { z } from 'zod';
import { ModelHubStore } from '../database/ModelHubStore';
import { JobQueue } from '../jobs/JobQueue';
import { JobExecutor } from '../jobs/JobWorker';
import { InspectCommitted } from '../service/ingest';
import { RouteContext, principalRef } from '../service/context';
import { parseInput } from '../service/validation';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { ArtifactStore } from '../store/ArtifactStore';
import { resolveInsideRoot, scanLocalModels } from './scanLocalModels';

/** The job type of the local scan. @internal */
export const LOCAL_SCAN_JOB = 'local-scan';

const json = jsonBody(BODY_LIMITS.small);

const scanBody = z.strictObject({
  path: z.string().min(1).max(4096).default('.'),
  owner: z.string().min(1).max(255).optional(),
});

/** What a scan job runs with (its params). */
type ScanParams = { path: string; owner: string; createdBy: string };

/**
 * The executor of `local-scan` jobs: scans the folders under the root,
 * every file committed through the upload path (`ingestFile`) and
 * inspected, with the scan's progress (folders, files, bytes, the models
 * found) and a log line per folder and file.
 *
 * @internal
 */
export function createScanExecutor(options: {
  root: string;
  namespace: string;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  /** The format inspection of each committed file. */
  inspect?: InspectCommitted;
}): JobExecutor {
  return async ctx => {
    const params = ctx.job.params as Partial<ScanParams>;
    if (!params.path || !params.owner || !params.createdBy) {
      throw new Error(
        'A local scan job needs a path, an owner and its creator',
      );
    }
    await ctx.log('info', `Scanning ${params.path} under the scan root`);
    const result = await scanLocalModels({
      root: options.root,
      path: params.path,
      store: options.store,
      artifacts: options.artifacts,
      namespace: options.namespace,
      owner: params.owner,
      createdBy: params.createdBy,
      inspect: options.inspect,
      onProgress: p => ctx.progress(p),
      log: (level, message) => ctx.log(level, message),
      signal: ctx.signal,
    });
    await ctx.log(
      'info',
      `Scan done: ${result.models.length} models (${
        result.models.filter(m => m.created).length
      } new or completed versions), ${result.skipped.length} skipped`,
    );
  };
}

/**
 * `GET /scan` (whether scanning is on) and `POST /scan`: queues a job that
 * registers the models of `org/name` folders under the configured root
 * (`modelHub.scan.root`); follow it with `/jobs/:id` and its logs. Admins
 * only: it reads the backend's filesystem. One scan at a time (409).
 *
 * @internal
 */
export function addScanRoutes(
  router: Router,
  ctx: RouteContext,
  options: {
    root?: string;
    namespace: string;
    /** Where scan jobs are queued; without it POST /scan answers 503. */
    queue?: JobQueue;
    /** Wakes the workers after a job is queued. */
    onEnqueue?: () => void;
  },
) {
  router.get('/scan', async (req, res) => {
    await ctx.authorize(req, modelHubAdminPermission);
    res.json({
      enabled: Boolean(options.root),
      ...(options.root && { root: options.root }),
    });
  });

  router.post('/scan', json, async (req, res) => {
    const body = parseInput(scanBody, req.body ?? {}, 'scan request');
    const result = await ctx.audited(
      req,
      {
        eventId: 'local-scan',
        severityLevel: 'high',
        meta: { path: body.path },
      },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        if (!options.root) {
          throw new NotFoundError(
            'Local scanning is off; set modelHub.scan.root to enable it',
          );
        }
        if (!options.queue) {
          throw new ServiceUnavailableError(
            'The job queue of the local scan is not set up',
          );
        }
        // a path outside the root or that does not exist: 400 / 404 now,
        // not a failed job
        await resolveInsideRoot(options.root, body.path);
        let owner = body.owner?.toLocaleLowerCase('en-US');
        if (owner && !owner.includes(':')) {
          owner = `group:${owner.includes('/') ? owner : `default/${owner}`}`;
        }
        if (!owner) {
          if (!ctx.options.auth.isPrincipal(credentials, 'user')) {
            throw new InputError('owner is required when a service scans');
          }
          owner =
            credentials.principal.userEntityRef.toLocaleLowerCase('en-US');
        }
        const running = await ctx.store.listJobs({
          offset: 0,
          limit: 1,
          type: LOCAL_SCAN_JOB,
          state: ['queued', 'running'],
        });
        if (running.items.length) {
          throw new ConflictError(
            `A local scan is ${running.items[0].state} already (job ${running.items[0].id}); wait for it or cancel it`,
          );
        }
        const createdBy = principalRef(credentials);
        const params: ScanParams = { path: body.path, owner, createdBy };
        const jobId = await options.queue.enqueue({
          type: LOCAL_SCAN_JOB,
          params,
          // a scan is started again by hand (it skips what it stored)
          maxAttempts: 1,
          createdBy,
        });
        options.onEnqueue?.();
        const job = await ctx.store.getJob({ id: jobId });
        return { result: { jobId, job }, credentials, meta: { jobId } };
      },
    );
    res.status(202).json(result);
  });
}
