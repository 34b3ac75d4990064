import { matchesApprovedContent } from '@model-hub/backstage-plugin-model-hub-common';
import { ActiveVersionRecord } from '../database/activeVersions';
import { HubVersion } from '../database/types';

/**
 * The versions a model serves by name (the mirror's tags and revisions):
 * approved ones whose files are still those they were approved with.
 *
 * @internal
 */
export function servableVersions(versions: HubVersion[]): HubVersion[] {
  return versions.filter(
    v => v.state === 'approved' && matchesApprovedContent(v),
  );
}

/**
 * THE served version of a model (the mirror's `main`): its active version
 * as the approvals workflow records it (`model_active_versions`, promoted or
 * rolled back to) while that version is servable; when the model has none
 * (never promoted, or cleared), or the active one is no longer servable
 * (deprecated, or its files changed), the most recently approved servable
 * version (the approved version updated last; the approval is its last
 * update).
 *
 * @internal
 */
export function pickServedVersion(
  versions: HubVersion[],
  activeVersionId?: string,
): HubVersion | undefined {
  const servable = servableVersions(versions);
  const promoted = servable.find(v => v.id === activeVersionId);
  if (promoted) {
    return promoted;
  }
  let served: HubVersion | undefined;
  for (const version of servable) {
    if (
      !served ||
      version.updatedAt > served.updatedAt ||
      (version.updatedAt === served.updatedAt &&
        version.createdAt > served.createdAt)
    ) {
      served = version;
    }
  }
  return served;
}

/** The active and the served version of a model. @internal */
export type ServedVersion = {
  /**
   * The active version as recorded (the REST API's `activeVersion`); it
   * stays recorded, with its state, when it is deprecated.
   */
  active?: ActiveVersionRecord;
  /** The versions served by name, see {@link servableVersions}. */
  servable: HubVersion[];
  /** The version served by default, see {@link pickServedVersion}. */
  served?: HubVersion;
};

/**
 * The active and the served version of a model, from its versions and its
 * recorded active version: the one computation that the REST API
 * (`activeVersion` of a model, the default version of an export) and the
 * mirror (`main`, tags) share.
 *
 * @internal
 */
export function servedOf(
  versions: HubVersion[],
  active: ActiveVersionRecord | undefined,
): ServedVersion {
  return {
    active,
    servable: servableVersions(versions),
    served: pickServedVersion(versions, active?.versionId),
  };
}
