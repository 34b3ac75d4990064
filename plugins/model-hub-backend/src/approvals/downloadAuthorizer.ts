import {
  matchesApprovedContent,
  modelHubArtifactDownloadPermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { ResourcePermission } from '@backstage/plugin-permission-common';
import { HubModel, HubVersion } from '../database/types';
import { DEFAULT_APPROVAL_POLICY } from './config';
import { RELEASED_STATES } from './transitions';

/**
 * Who asks to download, as the authorizer sees them: the decisions on a
 * model are taken by the front that knows the caller (the REST API with the
 * request's credentials, the mirror with those of a personal token's owner,
 * cached), both through the one decision path of models
 * (`service/modelAccess.ts`).
 *
 * @internal
 */
export interface DownloadCaller {
  /**
   * An anonymous caller the mirror lets in (`modelHub.mirror.allowAnonymous`):
   * no permission is asked for it; only released versions are served.
   */
  readonly anonymous?: boolean;
  /** Whether the caller may read the model (`model-hub.model.read`, `catalog.entity.read`). */
  canRead(modelRef: string): Promise<boolean>;
  /** Whether the caller holds a resource permission on the model. */
  isAllowed(permission: ResourcePermission, modelRef: string): Promise<boolean>;
  /** The ownership entity refs of a user caller (itself and its groups); none for services. */
  ownershipRefs(): Promise<string[]>;
}

/** Why a download is refused. @internal */
export type DownloadDenial =
  /** The caller may not read the model: it is not there for them (404). */
  | { reason: 'hidden'; message: string }
  /** The caller lacks `model-hub.artifact.download` on the model (403). */
  | { reason: 'forbidden'; message: string }
  /** A released version whose files are not the approved ones (409). */
  | { reason: 'changed'; message: string }
  /** A version that is not released, for a caller outside the policy's audiences (403). */
  | { reason: 'unapproved'; message: string };

/**
 * THE authorizer of downloads, for the REST API's file downloads and the
 * mirror alike. A caller may download the files of a version of a model
 * when, in this order:
 *
 * 1. they may read the model (else the model is hidden: `hidden`);
 * 2. they hold `model-hub.artifact.download` on it (`forbidden`);
 * 3. the version is released (approved or deprecated) with the files it was
 *    approved with (a released version whose files changed is served to
 *    nobody: `changed`), or, for a version that is not released, the
 *    caller is one of the audiences of the model's approval policy
 *    (`allowUnapprovedDownloadsFor`): `owners` (the caller or one of their
 *    groups owns the model) and `reviewers` (holders of
 *    `model-hub.version.review` on the model); else `unapproved`.
 *
 * Each front answers a denial its own way (the REST API with Backstage
 * errors, the mirror with Hub errors), as before.
 *
 * @internal
 */
export class DownloadAuthorizer {
  constructor(
    private readonly options: {
      /** The approval policy of a model; the default policy without one. */
      policyFor?: (model: Pick<HubModel, 'type' | 'lifecycle'>) => {
        allowUnapprovedDownloadsFor: readonly string[];
      };
    } = {},
  ) {}

  /**
   * Checks steps 1 and 2 (the model) and, when a version is given, step 3;
   * undefined when the download is allowed.
   */
  async check(
    caller: DownloadCaller,
    model: HubModel,
    version?: HubVersion,
  ): Promise<DownloadDenial | undefined> {
    if (!caller.anonymous) {
      if (!(await caller.canRead(model.entityRef))) {
        return {
          reason: 'hidden',
          message: `Model ${model.entityRef} not found`,
        };
      }
      if (
        !(await caller.isAllowed(
          modelHubArtifactDownloadPermission,
          model.entityRef,
        ))
      ) {
        return {
          reason: 'forbidden',
          message: `Not allowed: ${modelHubArtifactDownloadPermission.name} on ${model.entityRef}`,
        };
      }
    }
    return version ? this.checkVersion(caller, model, version) : undefined;
  }

  /** Step 3: the release state of the version. */
  private async checkVersion(
    caller: DownloadCaller,
    model: HubModel,
    version: HubVersion,
  ): Promise<DownloadDenial | undefined> {
    if (RELEASED_STATES.includes(version.state)) {
      if (!matchesApprovedContent(version)) {
        // never serve files that are not the approved ones
        return {
          reason: 'changed',
          message: `The files of version ${version.label} of ${
            model.entityRef
          } do not match the content it was approved with (${
            version.approvedDigest ?? 'none recorded'
          }); it is not served`,
        };
      }
      return undefined;
    }
    const policy = this.options.policyFor?.(model) ?? DEFAULT_APPROVAL_POLICY;
    const audiences = policy.allowUnapprovedDownloadsFor;
    if (!caller.anonymous) {
      if (audiences.includes('owners')) {
        const refs = await caller.ownershipRefs();
        if (
          refs
            .map(r => r.toLocaleLowerCase('en-US'))
            .includes(model.owner.toLocaleLowerCase('en-US'))
        ) {
          return undefined;
        }
      }
      if (
        audiences.includes('reviewers') &&
        (await caller.isAllowed(
          modelHubVersionReviewPermission,
          model.entityRef,
        ))
      ) {
        return undefined;
      }
    }
    return {
      reason: 'unapproved',
      message: `Version ${version.label} of ${model.entityRef} is ${
        version.state
      }; ${
        audiences.length
          ? `only its ${audiences.join(
              ' and ',
            )} may download it until it is approved`
          : 'nobody may download it until it is approved'
      }`,
    };
  }
}
