import { Router } from 'express';
import PromiseRouter from 'express-promise-router';
import { RouteContext, RouterOptions } from './context';
import { addActivityRoutes } from './routes/activity';
import { addFileRoutes } from './routes/files';
import { addJobRoutes } from './routes/jobs';
import { addModelRoutes } from './routes/models';
import { addApprovalRoutes } from '../approvals/router';
import { MirrorRoutes, addDisabledMirrorRoutes } from '../mirror';
import { addLifecycleRoutes } from '../lifecycle/routes';
import { addCatalogSyncRoutes } from '../catalogSync/routes';
import {
  disabledHuggingFaceRoutes,
  RouteExtension,
} from '../huggingface/setup';

export type { RouterOptions } from './context';

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
  },
): Promise<Router> {
  const router = PromiseRouter();
  const ctx = new RouteContext(options);
  addModelRoutes(router, ctx);
  addFileRoutes(router, ctx);
  addJobRoutes(router, ctx);
  addActivityRoutes(router, ctx);
  addApprovalRoutes(router, ctx);
  (options.mirror ?? addDisabledMirrorRoutes)(router, ctx);
  (options.extensions ?? disabledHuggingFaceRoutes).forEach(extend =>
    extend(router, ctx),
  );
  return router;
}
  addLifecycleRoutes(router, ctx);
  addCatalogSyncRoutes(router, ctx);
