import { ConflictError, NotAllowedError } from '@backstage/errors';
import {
  matchesApprovedContent,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { Request } from 'express';
import { HubModel, HubVersion } from '../database/types';
import type { RouteContext } from '../service/context';
import { DEFAULT_APPROVAL_POLICY } from './config';
import { RELEASED_STATES } from './transitions';

/**
 * Limits downloads of versions that are not approved (or deprecated) to
 * the audiences of the model's policy (`allowUnapprovedDownloadsFor`):
 * `owners` (the owner of the model is the caller or one of their groups)
 * and `reviewers` (holders of `model-hub.version.review` on the model).
 * Throws `NotAllowedError` (403) otherwise. A released version whose files
 * no longer match the content digest it was approved with is served to
 * nobody (`ConflictError`, 409). Without an approvals service
 * the default policy applies.
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
  if (RELEASED_STATES.includes(version.state)) {
    if (!matchesApprovedContent(version)) {
      // never serve files that are not the approved ones
      throw new ConflictError(
        `The files of version ${version.label} of ${model.entityRef} do not match the content it was approved with (${
          version.approvedDigest ?? 'none recorded'
        }); it is not served`,
      );
    }
    return;
  }
  const policy =
    ctx.options.approvals?.policyFor(model) ?? DEFAULT_APPROVAL_POLICY;
  const audiences = policy.allowUnapprovedDownloadsFor;
  if (
    audiences.includes('owners') &&
    ctx.options.auth.isPrincipal(credentials, 'user')
  ) {
    const { ownershipEntityRefs } = await ctx.options.userInfo.getUserInfo(
      credentials,
    );
    if (
      ownershipEntityRefs
        .map(r => r.toLocaleLowerCase('en-US'))
        .includes(model.owner.toLocaleLowerCase('en-US'))
    ) {
      return;
    }
  }
  if (
    audiences.includes('reviewers') &&
    (await ctx.isAllowed(req, modelHubVersionReviewPermission, model.entityRef))
  ) {
    return;
  }
  throw new NotAllowedError(
    `Version ${version.label} of ${model.entityRef} is ${version.state}; ${
      audiences.length
        ? `only its ${audiences.join(
            ' and ',
          )} may download it until it is approved`
        : 'nobody may download it until it is approved'
    }`,
  );
}
