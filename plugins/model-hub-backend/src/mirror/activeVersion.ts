import { matchesApprovedContent } from '@model-hub/backstage-plugin-model-hub-common';
import { HubVersion } from '../database/types';

/**
 * The version a model's `main` branch points at: its active approved
 * version. That is the active version the approvals workflow records
 * (`model_active_versions`) when it is approved; when the model has none
 * (never promoted, or cleared), the most recently approved version (the
 * approved version updated last; the approval is its last update).
 *
 * @internal
 */
export function pickActiveVersion(
  versions: HubVersion[],
  activeVersionId?: string,
): HubVersion | undefined {
  const promoted = servableVersions(versions).find(
    v => v.id === activeVersionId,
  );
  if (promoted) {
    return promoted;
  }
  let active: HubVersion | undefined;
  for (const version of servableVersions(versions)) {
    if (
      !active ||
      version.updatedAt > active.updatedAt ||
      (version.updatedAt === active.updatedAt &&
        version.createdAt > active.createdAt)
    ) {
      active = version;
    }
  }
  return active;
}

/**
 * The versions the mirror serves: approved ones whose files are still
 * those they were approved with. @internal
 */
export function servableVersions(versions: HubVersion[]): HubVersion[] {
  return versions.filter(
    v => v.state === 'approved' && matchesApprovedContent(v),
  );
}
