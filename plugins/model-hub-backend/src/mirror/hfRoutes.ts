import { modelHubModelCreatePermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Response, Router } from 'express';
import { callerRef, MirrorCaller } from './access';
import { HfError, repoNotFound, sendHfError } from './errors';
import {
  EXPOSED_HEADERS,
  HfRouteContext,
  MirrorRoutesOptions,
  param,
  toHfError,
} from './hfRequest';
import { addHfApiRoutes } from './hfApiRoutes';
import { addHfFileRoutes } from './hfFileRoutes';

export type { MirrorRoutesOptions } from './hfRequest';

/**
 * The Hugging Face Hub routes of the mirror, under `/hf`: model info, tree,
 * paths-info, refs, resolve and raw, as specified by the HF protocol
 * reference. Only approved versions are served.
 *
 * @internal
 */
export function addMirrorRoutes(router: Router, options: MirrorRoutesOptions) {
  const { repository, access, logger } = options;

  const handle =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response) => {
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      try {
        await fn(req, res);
      } catch (error) {
        const hfError = toHfError(error);
        if (hfError.status >= 500) {
          logger.error(
            `Mirror request ${req.method} ${req.path} failed`,
            error as Error,
          );
        }
        sendHfError(res, req.method, hfError);
      }
    };

  /**
   * Pull-through of a repo that is not mirrored: a caller allowed to create
   * models (`model-hub.model.create`) queues its sync and is asked to come
   * back (503 + Retry-After); the repo is served once a version of it is
   * approved. Other callers get a 403 that says so.
   */
  async function pullThrough(caller: MirrorCaller, repoId: string) {
    const actor = callerRef(caller);
    if (!options.pullThrough || !actor) {
      return;
    }
    if (!(await access.canCreateModels(caller))) {
      throw new HfError(
        403,
        undefined,
        `${repoId} is not mirrored, and pulling it through needs ${modelHubModelCreatePermission.name}`,
      );
    }
    try {
      await options.pullThrough({ repoId, actor });
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'ConflictError') {
        // not on the Hub, not readable, or an organization not allowed
        throw repoNotFound(repoId);
      }
      // registered concurrently: its sync is queued already
    }
    logger.info(`Mirror pull-through of ${repoId} requested by ${actor}`);
    throw new HfError(
      503,
      undefined,
      `${repoId} is not mirrored yet; its sync is queued, and it is served once a version is approved`,
      { 'Retry-After': '60' },
    );
  }

  /** Authenticates, finds the model and checks the download permission. */
  async function authorizedModel(req: Request) {
    const caller = await access.authenticate(req);
    const org = param(req, 'org');
    const name = param(req, 'name');
    let model;
    try {
      model = await repository.getModel(org, name);
    } catch (error) {
      if (error instanceof HfError && error.code === 'RepoNotFound') {
        await pullThrough(caller, `${org}/${name}`);
      }
      throw error;
    }
    await access.authorizeModel(caller, model, `${org}/${name}`);
    return model;
  }

  async function authorizedSnapshot(req: Request, revision: string) {
    const model = await authorizedModel(req);
    return repository.resolve(model, revision);
  }

  const context: HfRouteContext = {
    options,
    handle,
    authorizedModel,
    authorizedSnapshot,
  };
  // metadata routes first, then the file routes, as they always were
  addHfApiRoutes(router, context);
  addHfFileRoutes(router, context);
}
