import { Router } from 'express';
import PromiseRouter from 'express-promise-router';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { RouteContext, RouterOptions } from './context';
import { RouteExtension } from './feature';
import { modelParams } from './validation';
import { addActivityRoutes } from './routes/activity';
import { addFileRoutes } from './routes/files';
import { addJobRoutes } from './routes/jobs';
import { addModelRoutes, requireNotOrphaned } from './routes/models';

export type { RouterOptions } from './context';

/** Methods an orphaned model still answers (DELETE decides itself). */
const READ_ONLY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * The REST API of Model Hub, described by `src/schema/openapi.yaml`: the
 * core routes (models, versions, files, jobs, activity) and, after them,
 * the routes the features contribute (see `service/feature.ts`; a feature
 * that is off contributes its disabled routes, so that the route table
 * never changes). Errors are thrown as `@backstage/errors` types and
 * answered by the backend's error middleware.
 *
 * @internal
 */
export async function createCoreRouter(
  options: RouterOptions,
  features: RouteExtension[],
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
  addFileRoutes(router, ctx);
  addJobRoutes(router, ctx);
  addActivityRoutes(router, ctx);
  for (const extend of features) {
    extend(router, ctx);
  }
  return router;
}
