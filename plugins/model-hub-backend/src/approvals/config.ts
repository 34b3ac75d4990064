import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { HubModel } from '../database/types';

/** Who may download files of versions that are not approved. @internal */
export const DOWNLOAD_AUDIENCES = ['owners', 'reviewers'] as const;

/** @internal */
export type DownloadAudience = (typeof DOWNLOAD_AUDIENCES)[number];

/** The events the approvals workflow emits (webhooks). @internal */
export const APPROVAL_EVENTS = [
  'version.submitted',
  'version.approval_recorded',
  'version.approved',
  'version.changes_requested',
  'version.rejected',
  'version.deprecated',
  'version.archived',
  'version.revoked',
  'model.active_version_changed',
] as const;

/** @internal */
export type ApprovalEvent = (typeof APPROVAL_EVENTS)[number];

/** The approval policy of one model, with defaults applied. @internal */
export type ApprovalPolicy = {
  /** Approvals (by distinct reviewers) a review round needs. */
  requiredApprovals: number;
  /** Groups notified of reviews, as full entity refs. */
  reviewerGroups: string[];
  /** Whether the submitter and the creator of a version may not approve it. */
  separationOfDuties: boolean;
  /** Checks that must pass (or be waived) before a version is submitted. */
  requiredChecks: string[];
  /** Who may download files of versions that are not approved. */
  allowUnapprovedDownloadsFor: DownloadAudience[];
};

/** An outgoing webhook. @internal */
export type WebhookTarget = {
  url: string;
  /** HMAC-SHA256 key of the `X-Model-Hub-Signature` header. */
  secret?: string;
  /** The events sent; all when empty. */
  events: ApprovalEvent[];
  maxAttempts: number;
  initialBackoffMs: number;
  timeoutMs: number;
};

/** `modelHub.approvals`, normalised. @internal */
export type ApprovalsConfig = {
  defaults: ApprovalPolicy;
  overrides: Array<{
    match: { type?: string[]; lifecycle?: string[] };
    policy: Partial<ApprovalPolicy>;
  }>;
  webhooks: WebhookTarget[];
};

/**
 * The policy when nothing is configured. Versions need the format and
 * safety checks of the inspection to pass (an admin may waive one with a
 * reason); `requiredChecks: []` turns that off.
 *
 * @internal
 */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = Object.freeze({
  requiredApprovals: 1,
  reviewerGroups: [],
  separationOfDuties: true,
  // the inspection's aggregate checks (inspection/VersionChecksStore):
  // fail closed unless the files are valid and their pickles verified
  requiredChecks: ['model-hub.format', 'model-hub.safety'],
  allowUnapprovedDownloadsFor: ['owners', 'reviewers'],
}) as ApprovalPolicy;

function stringList(config: Config, key: string): string[] | undefined {
  if (!config.has(key)) {
    return undefined;
  }
  // a single string or a list of strings
  const value = config.getOptional(key);
  return typeof value === 'string' ? [value] : config.getStringArray(key);
}

function readPolicy(config: Config, path: string): Partial<ApprovalPolicy> {
  const policy: Partial<ApprovalPolicy> = {};
  const required = config.getOptionalNumber('requiredApprovals');
  if (required !== undefined) {
    if (!Number.isInteger(required) || required < 1 || required > 20) {
      throw new Error(
        `${path}.requiredApprovals must be an integer from 1 to 20, got ${required}`,
      );
    }
    policy.requiredApprovals = required;
  }
  const groups = stringList(config, 'reviewerGroups');
  if (groups) {
    policy.reviewerGroups = groups.map(g => {
      try {
        return stringifyEntityRef(
          parseEntityRef(g, {
            defaultKind: 'group',
            defaultNamespace: 'default',
          }),
        ).toLocaleLowerCase('en-US');
      } catch (error) {
        throw new Error(`${path}.reviewerGroups has an invalid ref '${g}'`);
      }
    });
  }
  const sod = config.getOptionalBoolean('separationOfDuties');
  if (sod !== undefined) {
    policy.separationOfDuties = sod;
  }
  const checks = stringList(config, 'requiredChecks');
  if (checks) {
    policy.requiredChecks = checks;
  }
  const audiences = stringList(config, 'allowUnapprovedDownloadsFor');
  if (audiences) {
    for (const a of audiences) {
      if (!(DOWNLOAD_AUDIENCES as readonly string[]).includes(a)) {
        throw new Error(
          `${path}.allowUnapprovedDownloadsFor may contain owners and reviewers, got '${a}'`,
        );
      }
    }
    policy.allowUnapprovedDownloadsFor = audiences as DownloadAudience[];
  }
  return policy;
}

/**
 * Reads `modelHub.approvals` into a normalised object with defaults applied;
 * throws a descriptive error for impossible settings.
 *
 * @internal
 */
export function readApprovalsConfig(config: Config): ApprovalsConfig {
  const approvals = config.getOptionalConfig('modelHub.approvals');
  if (!approvals) {
    return {
      defaults: { ...DEFAULT_APPROVAL_POLICY },
      overrides: [],
      webhooks: [],
    };
  }
  const base = 'modelHub.approvals';
  const defaults = {
    ...DEFAULT_APPROVAL_POLICY,
    ...readPolicy(approvals, base),
  };
  const overrides = (approvals.getOptionalConfigArray('overrides') ?? []).map(
    (o, i) => {
      const match = {
        type: stringList(o, 'type'),
        lifecycle: stringList(o, 'lifecycle'),
      };
      if (!match.type && !match.lifecycle) {
        throw new Error(
          `${base}.overrides[${i}] must name a type or a lifecycle to match`,
        );
      }
      return { match, policy: readPolicy(o, `${base}.overrides[${i}]`) };
    },
  );
  const webhooks = (approvals.getOptionalConfigArray('webhooks') ?? []).map(
    (w, i) => {
      const path = `${base}.webhooks[${i}]`;
      const url = w.getString('url');
      if (!/^https?:\/\//.test(url)) {
        throw new Error(`${path}.url must be an http(s) URL, got '${url}'`);
      }
      const events = stringList(w, 'events') ?? [];
      for (const e of events) {
        if (!(APPROVAL_EVENTS as readonly string[]).includes(e)) {
          throw new Error(
            `${path}.events has an unknown event '${e}'; known: ${APPROVAL_EVENTS.join(
              ', ',
            )}`,
          );
        }
      }
      const maxAttempts = w.getOptionalNumber('maxAttempts') ?? 5;
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
        throw new Error(`${path}.maxAttempts must be a positive integer`);
      }
      return {
        url,
        secret: w.getOptionalString('secret'),
        events: events as ApprovalEvent[],
        maxAttempts,
        initialBackoffMs: w.has('initialBackoff')
          ? durationToMilliseconds(
              readDurationFromConfig(w, { key: 'initialBackoff' }),
            )
          : 1000,
        timeoutMs: w.has('timeout')
          ? durationToMilliseconds(
              readDurationFromConfig(w, { key: 'timeout' }),
            )
          : 10_000,
      };
    },
  );
  return { defaults, overrides, webhooks };
}

/**
 * The effective policy of a model: the defaults, then every override whose
 * `type` and `lifecycle` match the model, in order (later ones win).
 *
 * @internal
 */
export function policyForModel(
  config: ApprovalsConfig,
  model: Pick<HubModel, 'type' | 'lifecycle'>,
): ApprovalPolicy {
  let policy = { ...config.defaults };
  for (const { match, policy: override } of config.overrides) {
    if (
      (!match.type || match.type.includes(model.type)) &&
      (!match.lifecycle || match.lifecycle.includes(model.lifecycle))
    ) {
      policy = { ...policy, ...override };
    }
  }
  return policy;
}
