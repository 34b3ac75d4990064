import type { HubVersion, VersionState } from './core';
import type { HubActiveVersion } from './models';

/** The decision of a review. @public */
export type ReviewDecision = 'approve' | 'request_changes' | 'reject';

/** A lifecycle transition of a version. @public */
export type TransitionAction =
  | 'submit'
  | ReviewDecision
  | 'deprecate'
  | 'archive'
  | 'revoke';

/**
 * A transition of a version
 * (`POST /models/{namespace}/{name}/versions/{label}/transitions`).
 *
 * @public
 */
export type TransitionRequest = {
  action: TransitionAction;
  comment?: string;
  /** The version's `revision` as read: 409 if it changed since. */
  revision?: number;
};

/** The answer to a transition. @public */
export type HubTransitionResult = {
  version: HubVersion;
  from: VersionState;
  to: VersionState;
  round: number;
  approvals: { count: number; required: number; reviewers: string[] };
};

/** The status of an inspection check. @public */
export type HubCheckStatus =
  | 'pending'
  | 'running'
  | 'passed'
  | 'failed'
  | 'error'
  | 'skipped';

/** An inspection check of a version, as the review data lists it. @public */
export type HubVersionCheck = {
  name: string;
  status: HubCheckStatus;
  required?: boolean;
  summary?: string;
  detailsUrl?: string;
  /** JSON details (format inspections store parameter counts here). */
  details?: Record<string, unknown>;
  createdAt?: string;
  updatedAt?: string;
};

/** A waiver of a failed check (`POST …/checks/{check}/waiver`). @public */
export type HubCheckWaiver = {
  checkName: string;
  reason: string;
  waivedBy: string;
  /** Whether the files changed since: a lapsed waiver waives nothing. */
  lapsed?: boolean;
  createdAt: string;
};

/** A comment on a version, with its replies (`GET …/comments`). @public */
export type HubComment = {
  id: string;
  parentId?: string;
  author: string;
  body: string;
  createdAt: string;
  replies: HubComment[];
};

/** A change of the active version of a model. @public */
export type HubActiveVersionChange = {
  id: number;
  label?: string;
  action: 'promote' | 'rollback' | 'clear';
  actor: string;
  createdAt: string;
};

/**
 * The active version of a model with its changes, newest first
 * (`GET /models/{namespace}/{name}/active`).
 *
 * @public
 */
export type HubActiveVersionState = {
  active: HubActiveVersion | null;
  history: HubActiveVersionChange[];
};

/** A file in a diff. @public */
export type HubDiffFile = { path: string; size: number; sha256: string };

/** A change of a value between two versions. @public */
export type HubValueChange<T> = { from?: T; to?: T; changed: boolean };

/**
 * The differences of a version to the previous approved version, or to
 * another (`GET …/diff`).
 *
 * @public
 */
export type HubVersionDiff = {
  base?: { label: string; state: string };
  files: {
    added: HubDiffFile[];
    removed: HubDiffFile[];
    changed: Array<{
      path: string;
      from: { size: number; sha256: string };
      to: { size: number; sha256: string };
    }>;
    unchanged: number;
  };
  totalSize?: HubValueChange<number>;
  parameters?: HubValueChange<number>;
  license?: HubValueChange<string>;
};

/** Everything a reviewer needs about a version (`GET …/review`). @public */
export type HubVersionReview = {
  version: HubVersion;
  round: number;
  submission?: {
    round: number;
    submittedBy: string;
    comment?: string;
    submittedAt: string;
  };
  approvals: { count: number; required: number; reviewers: string[] };
  decisions: Array<{
    id: string;
    round: number;
    reviewer: string;
    decision: string;
    comment?: string;
    createdAt: string;
  }>;
  checks: {
    items: HubVersionCheck[];
    waivers: HubCheckWaiver[];
    /** The required checks that block approval (names, or name and status). */
    blocking: Array<string | { name: string; status?: string }>;
  };
  diff?: HubVersionDiff;
};

/** A version waiting for review, in the review queue (`GET /reviews`). @public */
export type HubApprovalItem = {
  modelRef: string;
  owner: string;
  type: string;
  lifecycle: string;
  label: string;
  revision: number;
  createdBy: string;
  round: number;
  submittedBy?: string;
  submittedAt?: string;
  /** The reviewers who approved in the current round. */
  approvals: string[];
};

/** Page and filter of the review queue (`GET /reviews`). @public */
export type ListApprovalsRequest = {
  /** Only versions of this model (entity ref). */
  model?: string;
  offset?: number;
  limit?: number;
};
