import { CheckStatus, CheckWaiver, VersionCheck } from './ApprovalsStore';

/**
 * The required checks that block a submission, with why: the policy's
 * `requiredChecks` and checks recorded as required, unless they passed or
 * an admin waived them. A required check that never ran is `missing`.
 *
 * @internal
 */
export function blockingChecks(options: {
  requiredChecks: string[];
  checks: VersionCheck[];
  waivers: CheckWaiver[];
}): { name: string; status: CheckStatus | 'missing' }[] {
  const waived = new Set(options.waivers.map(w => w.checkName));
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
