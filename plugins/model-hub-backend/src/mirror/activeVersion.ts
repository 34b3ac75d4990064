import { HubVersion } from '../database/types';

/**
 * The version a model's `main` branch points at: its active approved
 * version. Until the approvals workflow records an explicit active version,
 * this is the most recently approved one (the approved version updated
 * last; the approval is its last update).
 *
 * @internal
 */
export function pickActiveVersion(
  versions: HubVersion[],
): HubVersion | undefined {
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

/** The versions the mirror serves: approved ones only. @internal */
export function servableVersions(versions: HubVersion[]): HubVersion[] {
  return versions.filter(v => v.state === 'approved');
}
