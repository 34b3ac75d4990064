import { InputError, NotFoundError } from '@backstage/errors';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Router } from 'express';
import { z } from 'zod';
import { RouteContext, principalRef } from '../service/context';
import { parseInput } from '../service/validation';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { scanLocalModels } from './scanLocalModels';

const json = jsonBody(BODY_LIMITS.small);

const scanBody = z.strictObject({
  path: z.string().min(1).max(4096).default('.'),
  owner: z.string().min(1).max(255).optional(),
});

/**
 * `POST /scan`: registers the models of `org/name` folders under the
 * configured root (`modelHub.scan.root`). Admins only: it reads the
 * backend's filesystem.
 *
 * @internal
 */
export function addScanRoutes(
  router: Router,
  ctx: RouteContext,
  options: { root?: string; namespace: string },
) {
  router.post('/scan', json, async (req, res) => {
    const body = parseInput(scanBody, req.body ?? {}, 'scan request');
    const result = await ctx.audited(
      req,
      { eventId: 'local-scan', severityLevel: 'high', meta: { path: body.path } },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        if (!options.root) {
          throw new NotFoundError(
            'Local scanning is off; set modelHub.scan.root to enable it',
          );
        }
        let owner = body.owner?.toLocaleLowerCase('en-US');
        if (owner && !owner.includes(':')) {
          owner = `group:${owner.includes('/') ? owner : `default/${owner}`}`;
        }
        if (!owner) {
          if (!ctx.options.auth.isPrincipal(credentials, 'user')) {
            throw new InputError('owner is required when a service scans');
          }
          owner = credentials.principal.userEntityRef.toLocaleLowerCase('en-US');
        }
        const scanned = await scanLocalModels({
          root: options.root,
          path: body.path,
          store: ctx.store,
          artifacts: ctx.options.artifacts,
          namespace: options.namespace,
          owner,
          createdBy: principalRef(credentials),
          inspect: ctx.options.inspection
            ? (versionId, file) =>
                ctx.options.inspection!.inspectStoredFile(
                  versionId,
                  file,
                  ctx.options.artifacts,
                )
            : undefined,
        });
        return {
          result: scanned,
          credentials,
          meta: { models: scanned.models.length, skipped: scanned.skipped.length },
        };
      },
    );
    res.json(result);
  });
}
