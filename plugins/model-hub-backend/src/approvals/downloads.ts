import {
  ConflictError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { Request } from 'express';
import { HubModel, HubVersion } from '../database/types';
import type { RouteContext } from '../service/context';
import {
  DownloadAuthorizer,
  DownloadCaller,
  DownloadDenial,
} from './downloadAuthorizer';

/**
 * A REST caller for the {@link DownloadAuthorizer}: decisions through the
 * route context's decision path of models (`ModelAccess`), with the
 * request's credentials.
 *
 * @internal
 */
export function restDownloadCaller(
  ctx: RouteContext,
  credentials: BackstageCredentials,
): DownloadCaller {
  return {
    canRead: ref => ctx.access.canRead(credentials, ref),
    isAllowed: (permission, ref) =>
      ctx.access.decide(credentials, [permission], ref),
    ownershipRefs: async () =>
      ctx.options.auth.isPrincipal(credentials, 'user')
        ? (await ctx.options.userInfo.getUserInfo(credentials))
            .ownershipEntityRefs
        : [],
  };
}

/** A denial as the REST API answers it. @internal */
export function restDownloadError(denial: DownloadDenial): Error {
  switch (denial.reason) {
    case 'hidden':
      return new NotFoundError(denial.message);
    case 'changed':
      return new ConflictError(denial.message);
    default:
      return new NotAllowedError(denial.message);
  }
}

/**
 * The REST download route's check by an authorizer (the approvals
 * workflow's, shared with the mirror), as the core's download hook: the
 * model (404 when the caller may not read it, 403 without
 * `model-hub.artifact.download`) and the version: a version that is not
 * approved (or deprecated) only for the audiences of the model's policy
 * (`allowUnapprovedDownloadsFor`), else `NotAllowedError` (403); a released
 * version whose files no longer match the content digest it was approved
 * with to nobody (`ConflictError`, 409).
 *
 * @internal
 */
export function restDownloadAuthorizer(authorizer: DownloadAuthorizer) {
  return async (
    ctx: RouteContext,
    _req: Request,
    credentials: BackstageCredentials,
    model: HubModel,
    version: HubVersion,
  ): Promise<void> => {
    const denial = await authorizer.check(
      restDownloadCaller(ctx, credentials),
      model,
      version,
    );
    if (denial) {
      throw restDownloadError(denial);
    }
  };
}

/**
 * {@link restDownloadAuthorizer} with the authorizer of the route context's
 * approvals workflow (the default policy without one).
 *
 * @internal
 */
export async function assertDownloadAllowed(
  ctx: RouteContext,
  req: Request,
  credentials: BackstageCredentials,
  model: HubModel,
  version: HubVersion,
): Promise<void> {
  const approvals = ctx.options.approvals;
  const authorizer =
    (approvals as { downloads?: DownloadAuthorizer } | undefined)?.downloads ??
    new DownloadAuthorizer({
      policyFor: approvals && (m => approvals.policyFor(m)),
    });
  await restDownloadAuthorizer(authorizer)(
    ctx,
    req,
    credentials,
    model,
    version,
  );
}
