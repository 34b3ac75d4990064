import {
  modelHubVersionApprovePermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { ResourcePermission } from '@backstage/plugin-permission-common';
import { VersionState } from '../database/types';
import { ApprovalEvent } from './config';

/** The actions that move a version through its lifecycle. @internal */
export const TRANSITION_ACTIONS = [
  'submit',
  'approve',
  'request_changes',
  'reject',
  'deprecate',
  'archive',
  'revoke',
] as const;

/** @internal */
export type TransitionAction = (typeof TRANSITION_ACTIONS)[number];

/** One rule of the lifecycle. @internal */
export type TransitionRule = {
  from: VersionState[];
  to: VersionState;
  /** Checked on the model's entity ref. */
  permission: ResourcePermission;
  /** Whether a comment (the reason) is required. */
  commentRequired: boolean;
  /** Auditor event id. */
  auditEventId: string;
  /** Webhook event. */
  event: ApprovalEvent;
};

/**
 * The lifecycle of a version:
 *
 * ```
 * draft ──submit──▶ in_review ──approve──▶ approved ──deprecate──▶ deprecated ──archive──▶ archived
 *                    │  ▲  │                  │                      │
 *    request_changes │  │  └──reject──▶ rejected ◀──────revoke───────┘
 *                    ▼  │submit
 *             changes_requested
 * ```
 *
 * `approve` moves to `approved` once the review round has the approvals
 * the policy requires; earlier approvals are recorded and keep the version
 * `in_review`. Revoking an approved or deprecated version rejects it (with a
 * `revoke` decision recording why) and removes it as the active version.
 *
 * @internal
 */
export const TRANSITIONS: Record<TransitionAction, TransitionRule> = {
  submit: {
    from: ['draft', 'changes_requested'],
    to: 'in_review',
    permission: modelHubVersionCreatePermission,
    commentRequired: false,
    auditEventId: 'version-submit',
    event: 'version.submitted',
  },
  approve: {
    from: ['in_review'],
    to: 'approved',
    permission: modelHubVersionApprovePermission,
    commentRequired: false,
    auditEventId: 'version-approve',
    event: 'version.approved',
  },
  request_changes: {
    from: ['in_review'],
    to: 'changes_requested',
    permission: modelHubVersionReviewPermission,
    commentRequired: true,
    auditEventId: 'version-request-changes',
    event: 'version.changes_requested',
  },
  reject: {
    from: ['in_review'],
    to: 'rejected',
    permission: modelHubVersionApprovePermission,
    commentRequired: true,
    auditEventId: 'version-reject',
    event: 'version.rejected',
  },
  deprecate: {
    from: ['approved'],
    to: 'deprecated',
    permission: modelHubVersionApprovePermission,
    commentRequired: false,
    auditEventId: 'version-deprecate',
    event: 'version.deprecated',
  },
  archive: {
    from: ['deprecated'],
    to: 'archived',
    permission: modelHubVersionApprovePermission,
    commentRequired: false,
    auditEventId: 'version-archive',
    event: 'version.archived',
  },
  revoke: {
    from: ['approved', 'deprecated'],
    to: 'rejected',
    permission: modelHubVersionApprovePermission,
    commentRequired: true,
    auditEventId: 'version-revoke',
    event: 'version.revoked',
  },
};

/** States whose files anyone allowed to download may download. @internal */
export const RELEASED_STATES: VersionState[] = ['approved', 'deprecated'];
