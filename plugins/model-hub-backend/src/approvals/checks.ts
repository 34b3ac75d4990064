import { CheckStatus, CheckWaiver, VersionCheck } from './ApprovalsStore';

/**
 * The required checks that block a submission, with why: the policy's
 * `requiredChecks` and checks recorded as required, unless they passed or
 * an admin waived them for the version's current content (a waiver lapses
 * when the files change). A required check that never ran is `missing`.
 *
 * @internal
 */
export function blockingChecks(options: {
  requiredChecks: string[];
  checks: VersionCheck[];
  waivers: CheckWaiver[];
  /** The version's content digest: waivers of other content have lapsed. */
  contentDigest?: string;
}): { name: string; status: CheckStatus | 'missing' }[] {
  const waived = new Set(
    options.waivers
      .filter(
        w =>
          !w.lapsed &&
          (options.contentDigest === undefined ||
            w.contentDigest === options.contentDigest),
      )
      .map(w => w.checkName),
  );
  const byName = new Map(options.checks.map(c => [c.name, c]));
  const required = new Set([
    ...options.requiredChecks,
    ...options.checks.filter(c => c.required).map(c => c.name),
  ]);
  return [...required]
    .sort()
    .filter(name => !waived.has(name) && byName.get(name)?.status !== 'passed')
    .map(name => ({ name, status: byName.get(name)?.status ?? 'missing' }));
}
