import { ConflictError } from '@backstage/errors';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Router } from 'express';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { parseInput } from '../service/validation';
import { BlobRows } from './blobRows';
import { checkStore } from './checkStore';

const json = jsonBody(BODY_LIMITS.small);

const checkBody = z.strictObject({
  /** At most this many blobs in each list of the answer. */
  limit: z.number().int().min(1).max(10_000).default(100),
});

/**
 * `POST /admin/store-check` (`model-hub.admin`): re-hashes every blob of
 * the artifact store and answers the missing, corrupt and unreferenced
 * ones (counts, and lists cut at `limit`). Changes nothing. One check at a
 * time on an instance (409); a caller that goes away stops it.
 *
 * @internal
 */
export function addStoreCheckRoutes(
  router: Router,
  ctx: RouteContext,
  options: { rows: BlobRows },
) {
  let running = false;
  router.post('/admin/store-check', json, async (req, res) => {
    const body = parseInput(checkBody, req.body ?? {}, 'store check request');
    const result = await ctx.audited(
      req,
      { eventId: 'store-check', severityLevel: 'medium', meta: {} },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        if (running) {
          throw new ConflictError(
            'A store check is running on this instance; try again when it is done',
          );
        }
        running = true;
        const abort = new AbortController();
        const onClose = () => {
          if (!res.writableFinished) {
            abort.abort(new Error('The caller went away'));
          }
        };
        res.on('close', onClose);
        try {
          const report = await checkStore({
            artifacts: ctx.options.artifacts,
            rows: options.rows,
            limit: body.limit,
            signal: abort.signal,
          });
          return {
            result: report,
            credentials,
            meta: {
              checked: report.checked,
              missing: report.missing.count,
              corrupt: report.corrupt.count,
              unreferenced: report.unreferenced.count,
            },
          };
        } finally {
          running = false;
          res.off('close', onClose);
        }
      },
    );
    res.json(result);
  });
}
