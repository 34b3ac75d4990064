import { Router } from 'express';
import PromiseRouter from 'express-promise-router';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { RouteContext, RouterOptions } from './context';
import { modelParams } from './validation';
import { addActivityRoutes } from './routes/activity';
import { addFileRoutes } from './routes/files';
import { addJobRoutes } from './routes/jobs';
import { addModelRoutes, requireNotOrphaned } from './routes/models';
import { addLifecycleRoutes } from '../lifecycle/routes';
import { addCatalogSyncRoutes } from '../catalogSync/routes';
import { addApprovalRoutes } from '../approvals/router';
import { MirrorRoutes, addDisabledMirrorRoutes } from '../mirror';
import { addDisabledTransferRoutes } from '../transfer/routes';
import {
  disabledHuggingFaceRoutes,
  RouteExtension,
} from '../huggingface/setup';

export type { RouterOptions } from './context';

/** Methods an orphaned model still answers (DELETE decides itself). */
const READ_ONLY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * The REST API of Model Hub, described by `src/schema/openapi.yaml`.
 * Errors are thrown as `@backstage/errors` types and answered by the
 * backend's error middleware.
 *
 * @internal
 */
export async function createRouter(
  options: RouterOptions & {
    /** The HF-compatible mirror (`/hf`, `/tokens`); without it they answer 404. */
    mirror?: MirrorRoutes;
    /** More routes: Hugging Face sync, entity feed, local scan. */
    extensions?: RouteExtension[];
    /** Air-gapped export and import; without it they answer 503. */
    transfer?: RouteExtension;
  },
): Promise<Router> {
  const router = PromiseRouter();
  const ctx = new RouteContext(options);
  // every route of one model (reads and changes) hides a model the caller
  // may not read (model-hub.model.read, catalog.entity.read): 404
  router.use('/models/:namespace/:name', async (req, _res, next) => {
    const params = modelParams.safeParse(req.params);
    if (params.success) {
      await ctx.assertReadable(
        req,
        modelEntityRef(params.data.namespace, params.data.name),
      );
    }
    next();
  });
  // a catalog-defined model the catalog no longer holds is read-only: no
  // versions, files, transitions, comments, syncs or edits (409); deletes
  // decide for themselves (an admin may delete it)
  router.use('/models/:namespace/:name', async (req, _res, next) => {
    const params = modelParams.safeParse(req.params);
    if (params.success && !READ_ONLY_METHODS.has(req.method)) {
      const model = await ctx.store.getModel({
        entityRef: modelEntityRef(params.data.namespace, params.data.name),
      });
      if (model) {
        requireNotOrphaned(model);
      }
    }
    next();
  });
  addModelRoutes(router, ctx);
  addLifecycleRoutes(router, ctx);
  addCatalogSyncRoutes(router, ctx);
  addFileRoutes(router, ctx);
  addJobRoutes(router, ctx);
  addActivityRoutes(router, ctx);
  addApprovalRoutes(router, ctx);
  (options.mirror ?? addDisabledMirrorRoutes)(router, ctx);
  (options.transfer ?? addDisabledTransferRoutes)(router, ctx);
  (options.extensions ?? disabledHuggingFaceRoutes).forEach(extend =>
    extend(router, ctx),
  );
  return router;
}
