import { Knex } from 'knex';
import type {
  HubActiveVersionChange,
  HubApprovalItem,
} from '@model-hub/backstage-plugin-model-hub-common';
import type { ModelCondition } from '../database/modelReadFilter';
import type { VersionState } from '../database/types';
import type { ApprovalPolicy } from './config';
import type { TransitionAction } from './transitions';

/** Statuses of a check result. @internal */
export const CHECK_STATUSES = [
  'pending',
  'running',
  'passed',
  'failed',
  'error',
  'skipped',
] as const;

/** @internal */
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** A decision of a reviewer, in a review round. @internal */
export type VersionDecision = {
  id: string;
  round: number;
  reviewer: string;
  decision: 'approve' | 'request_changes' | 'reject' | 'revoke';
  comment?: string;
  /** The manifest digest the decision was made on. */
  subjectDigest?: string;
  /** The content digest of the files the decision was made on. */
  contentDigest?: string;
  createdAt: string;
};

/** A submission for review; each starts a review round. @internal */
export type VersionSubmission = {
  round: number;
  submittedBy: string;
  comment?: string;
  /** The content digest of the files that were submitted. */
  contentDigest?: string;
  submittedAt: string;
};

/** @internal */
export type VersionComment = {
  id: string;
  parentId?: string;
  author: string;
  body: string;
  createdAt: string;
};

/** @internal */
export type VersionCheck = {
  name: string;
  status: CheckStatus;
  required: boolean;
  summary?: string;
  detailsUrl?: string;
  /** JSON details (format inspections store parameter counts here). */
  details?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
};

/** @internal */
export type CheckWaiver = {
  checkName: string;
  reason: string;
  waivedBy: string;
  /** The content digest the waiver was granted on. */
  contentDigest?: string;
  /** Whether the files changed since: a lapsed waiver waives nothing. */
  lapsed: boolean;
  createdAt: string;
};

/** The active version of a model. @internal */
export type ActiveVersion = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/** A change of the active version, as the API returns it. @internal */
export type ActiveVersionChange = HubActiveVersionChange;

/** A version waiting for review (the API's review queue item). @internal */
export type ReviewQueueItem = HubApprovalItem;

/** @internal */
export type WebhookDelivery = {
  id: string;
  event: string;
  url: string;
  modelRef?: string;
  versionLabel?: string;
  payload: unknown;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  responseStatus?: number;
  error?: string;
  createdAt: string;
  updatedAt: string;
};

/** An entry of the audit trail. @internal */
export type TimelineEntry = {
  id: number;
  eventId: string;
  actor: string;
  versionLabel?: string;
  meta: Record<string, unknown>;
  createdAt: string;
};

/** @internal */
export type ApplyTransitionOptions = {
  versionId: string;
  action: TransitionAction;
  actor: string;
  comment?: string;
  /** The revision the caller saw; a different one is a conflict. */
  expectedRevision?: number;
  policy: ApprovalPolicy;
  /**
   * The kind of principal acting: only a `user` can approve, request
   * changes, reject or revoke (service principals, such as static or
   * external tokens and plugin credentials, never can). Defaults to
   * `service`.
   */
  actorKind?: 'user' | 'service' | 'none';
  /**
   * Runs in the transition's transaction once the version has moved, before
   * it commits: the audit trail row, so that both commit or neither.
   */
  onApplied?(
    tx: Knex.Transaction,
    applied: TransitionResult & { revision: number },
  ): Promise<void>;
};

/** What a transition did. @internal */
export type TransitionResult = {
  from: VersionState;
  to: VersionState;
  round: number;
  /** Reviewers who approved in this round. */
  approvals: string[];
  /** Whether the version stopped being the active version of its model. */
  clearedActive: boolean;
};

/**
 * The persistence of the approvals workflow. Every state change is one
 * transaction guarded by the version's `revision` (optimistic concurrency).
 *
 * @internal
 */
export interface ApprovalsStore {
  /**
   * Moves a version through its lifecycle in one transaction: checks the
   * state, the expected revision, the required checks (submit), separation
   * of duties and repeated approvals (approve); records the submission or
   * decision; updates the version where its revision is unchanged.
   * Throws `ConflictError` when the state or revision does not fit (also
   * when a concurrent transition won), `NotAllowedError` for separation of
   * duties, `NotFoundError` for an unknown version.
   */
  applyTransition(options: ApplyTransitionOptions): Promise<TransitionResult>;

  listSubmissions(options: { versionId: string }): Promise<VersionSubmission[]>;
  listDecisions(options: { versionId: string }): Promise<VersionDecision[]>;

  addComment(options: {
    versionId: string;
    parentId?: string;
    author: string;
    body: string;
  }): Promise<VersionComment>;
  listComments(options: { versionId: string }): Promise<VersionComment[]>;

  /** Inserts or updates the result of a check of a version. */
  recordCheck(options: {
    versionId: string;
    name: string;
    status: CheckStatus;
    required?: boolean;
    summary?: string;
    detailsUrl?: string;
  }): Promise<VersionCheck>;
  listChecks(options: { versionId: string }): Promise<VersionCheck[]>;
  /**
   * Waives a check for the version's current content digest; a second
   * waiver of the same check and content is a conflict, one of changed
   * content replaces the lapsed waiver.
   */
  addWaiver(options: {
    versionId: string;
    checkName: string;
    reason: string;
    waivedBy: string;
  }): Promise<CheckWaiver>;
  listWaivers(options: { versionId: string }): Promise<CheckWaiver[]>;

  getActiveVersion(options: {
    modelId: string;
  }): Promise<ActiveVersion | undefined>;
  /**
   * Makes an approved version the active one. `expectedVersionId` is the
   * active version the caller saw (null: none); another one is a conflict.
   */
  setActiveVersion(options: {
    modelId: string;
    versionId: string;
    expectedVersionId: string | null;
    action: 'promote' | 'rollback';
    actor: string;
  }): Promise<ActiveVersion>;
  listActiveVersionChanges(options: {
    modelId: string;
  }): Promise<ActiveVersionChange[]>;

  listReviewQueue(options: {
    offset: number;
    limit: number;
    modelRef?: string;
    /** Only versions of models the caller may read. */
    readable?: ModelCondition;
  }): Promise<{ items: ReviewQueueItem[]; totalCount: number }>;

  /** The newest approved or deprecated version created before a version. */
  findPreviousApproved(options: {
    modelId: string;
    versionId: string;
  }): Promise<{ id: string; label: string } | undefined>;

  listTimeline(options: {
    modelRef: string;
    versionLabel?: string;
  }): Promise<TimelineEntry[]>;

  createDelivery(options: {
    id: string;
    event: string;
    url: string;
    modelRef?: string;
    versionLabel?: string;
    payload: unknown;
  }): Promise<void>;
  updateDelivery(options: {
    id: string;
    status: WebhookDelivery['status'];
    attempts: number;
    responseStatus?: number;
    error?: string;
  }): Promise<void>;
  listDeliveries(options: {
    offset: number;
    limit: number;
  }): Promise<{ items: WebhookDelivery[]; totalCount: number }>;
  /**
   * Claims pending deliveries that nobody has touched since `staleBefore`
   * (their process stopped between attempts): each is claimed by one
   * caller only, which refreshes its `updatedAt`.
   */
  claimStaleDeliveries(options: { staleBefore: Date; limit: number }): Promise<
    Array<{
      id: string;
      event: string;
      url: string;
      attempts: number;
      payload: unknown;
    }>
  >;
}
