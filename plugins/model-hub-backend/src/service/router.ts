import { Router } from 'express';
import PromiseRouter from 'express-promise-router';
import { RouteContext, RouterOptions } from './context';
import { addFileRoutes } from './routes/files';
import { addJobRoutes } from './routes/jobs';
import { addModelRoutes } from './routes/models';

export type { RouterOptions } from './context';

/**
 * The REST API of Model Hub, described by `src/schema/openapi.yaml`.
 * Errors are thrown as `@backstage/errors` types and answered by the
 * backend's error middleware.
 *
 * @internal
 */
export async function createRouter(options: RouterOptions): Promise<Router> {
  const router = PromiseRouter();
  const ctx = new RouteContext(options);
  addModelRoutes(router, ctx);
  addFileRoutes(router, ctx);
  addJobRoutes(router, ctx);
  return router;
}
