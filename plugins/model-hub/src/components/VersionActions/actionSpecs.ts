import {
  modelHubVersionApprovePermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { TransitionAction, VersionState } from '../../api';

/** An action on a version: a lifecycle transition, or a change of the active version. */
export type VersionActionId = TransitionAction | 'promote' | 'rollback';

/** Which permission an action needs. */
export type PermissionKind = 'create' | 'review' | 'approve';

/** An action of a version: its button, dialog and permission. */
export type ActionSpec = {
  id: VersionActionId;
  /** The button's accessible name. */
  label: string;
  /** The dialog's confirm button. */
  confirm: string;
  /** The sentence of the confirmation dialog. */
  description: string;
  permission: PermissionKind;
  comment: 'required' | 'optional' | 'none';
  variant: 'contained' | 'outlined';
  color: 'primary' | 'secondary' | 'default';
};

/** The permission of each kind, by name. */
export const PERMISSION_NAMES: Record<PermissionKind, string> = {
  create: modelHubVersionCreatePermission.name,
  review: modelHubVersionReviewPermission.name,
  approve: modelHubVersionApprovePermission.name,
};

/** Why a caller without the permission may not act. */
export const DENIED: Record<PermissionKind, string> = {
  create: "Only the model's owners may do this",
  review: 'Only reviewers of this model may do this',
  approve: 'Only approvers of this model may do this',
};

function spec(
  id: VersionActionId,
  label: string,
  rest: Partial<ActionSpec> & Pick<ActionSpec, 'permission' | 'description'>,
): ActionSpec {
  return {
    id,
    label,
    confirm: label,
    comment: 'optional',
    variant: 'outlined',
    color: 'default',
    ...rest,
  };
}

const SUBMIT = spec('submit', 'Submit for review', {
  permission: 'create',
  description: 'Reviewers are notified and decide on this version.',
  variant: 'contained',
  color: 'primary',
});
const APPROVE = spec('approve', 'Approve', {
  permission: 'approve',
  description:
    'Your approval counts towards the approvals the policy requires; with enough of them the version becomes approved.',
  variant: 'contained',
  color: 'primary',
});
const REQUEST_CHANGES = spec('request_changes', 'Request changes', {
  permission: 'review',
  comment: 'required',
  description:
    'The version goes back to its owners, who change it and submit it again.',
});
const REJECT = spec('reject', 'Reject', {
  permission: 'approve',
  comment: 'required',
  description: 'A rejected version cannot be submitted again.',
  color: 'secondary',
});
const PROMOTE = spec('promote', 'Promote to active', {
  permission: 'create',
  description:
    'The active version is the one clients get by default. Compare it with the current active version first:',
  variant: 'contained',
  color: 'primary',
});
const ROLLBACK = spec('rollback', 'Roll back', {
  permission: 'create',
  description:
    'The active version goes back to an earlier approved version. What changes for clients:',
  color: 'secondary',
});
const ROLLBACK_HERE = {
  ...ROLLBACK,
  label: 'Roll back to this version',
  confirm: 'Roll back',
};
const DEPRECATE = spec('deprecate', 'Deprecate', {
  permission: 'approve',
  description:
    'Deprecated versions can still be downloaded; clients are told to move on.',
});
const ARCHIVE = spec('archive', 'Archive', {
  permission: 'approve',
  description: 'Archived versions can no longer be downloaded.',
});
const REVOKE = spec('revoke', 'Revoke', {
  permission: 'approve',
  comment: 'required',
  description:
    'Revoking rejects the version and removes it as the active version. Say why.',
  color: 'secondary',
});

/** The actions of a version in each state. */
export function actionsFor(options: {
  state: VersionState;
  isActive: boolean;
  /** Whether the version is older than the active one. */
  olderThanActive: boolean;
  /** Whether an earlier version to roll back to exists. */
  canRollBack: boolean;
  /** Show the actions of reviewers (approve, request changes, reject). */
  review: boolean;
  /** Show the actions of owners (submit, promote, roll back). */
  owner: boolean;
}): ActionSpec[] {
  const { state, isActive, olderThanActive, canRollBack, review, owner } =
    options;
  const out: ActionSpec[] = [];
  if (owner && (state === 'draft' || state === 'changes_requested')) {
    out.push(SUBMIT);
  }
  if (review && state === 'in_review') {
    out.push(APPROVE, REQUEST_CHANGES, REJECT);
  }
  if (owner && state === 'approved') {
    if (isActive) {
      if (canRollBack) {
        out.push(ROLLBACK);
      }
    } else {
      out.push(olderThanActive ? ROLLBACK_HERE : PROMOTE);
    }
  }
  if (review && state === 'approved') {
    out.push(DEPRECATE, REVOKE);
  }
  if (review && state === 'deprecated') {
    out.push(ARCHIVE, REVOKE);
  }
  return out;
}
