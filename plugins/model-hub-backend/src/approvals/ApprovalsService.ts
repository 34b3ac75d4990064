import { LoggerService } from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { WAIVABLE_VERSION_STATES } from '@model-hub/backstage-plugin-model-hub-common';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel, HubVersion } from '../database/types';
import {
  ApplyTransitionOptions,
  ActiveVersion,
  ActiveVersionChange,
  ApprovalsStore,
  CheckWaiver,
  TransitionResult,
  VersionComment,
} from './ApprovalsStore';
import { ApprovalPolicy, ApprovalsConfig, policyForModel } from './config';
import { ActiveVersionService } from './activeVersionService';
import { blockingChecks } from './checks';
import {
  DiffFile,
  diffVersions,
  parametersFromChecks,
  VersionDiff,
} from './diff';
import { transitionNotification } from './notifications';
import { DownloadAuthorizer } from './downloadAuthorizer';
import { ServedVersion } from './servedVersion';
import { TRANSITIONS, TransitionAction } from './transitions';
import { WebhookDispatcher } from './webhooks';

/** A comment with its replies. @internal */
export type CommentThread = VersionComment & { replies: CommentThread[] };

/** @internal */
export type ApprovalsServiceOptions = {
  store: ApprovalsStore;
  hubStore: ModelHubStore;
  config: ApprovalsConfig;
  logger: LoggerService;
  /** Where notifications go; none are sent without it. */
  notifications?: NotificationService;
  webhooks?: WebhookDispatcher;
};

/**
 * The approvals workflow: lifecycle transitions under the configured
 * policy, review data, the active version of models, notifications and
 * webhooks. Permissions are checked by the routes before calling it;
 * separation of duties is enforced here (in the store's transaction).
 *
 * @internal
 */
export class ApprovalsService {
  readonly webhooks: WebhookDispatcher;
  /**
   * THE authorizer of downloads, under this workflow's policies: of the
   * REST API's file downloads and of the mirror.
   */
  readonly downloads: DownloadAuthorizer;
  private readonly active: ActiveVersionService;

  constructor(private readonly options: ApprovalsServiceOptions) {
    this.webhooks =
      options.webhooks ??
      new WebhookDispatcher({
        store: options.store,
        targets: options.config.webhooks,
        logger: options.logger,
      });
    this.downloads = new DownloadAuthorizer({
      policyFor: model => this.policyFor(model),
    });
    this.active = new ActiveVersionService({
      store: options.store,
      hubStore: options.hubStore,
      emit: (...args) => this.emit(...args),
    });
  }

  get store() {
    return this.options.store;
  }

  policyFor(model: Pick<HubModel, 'type' | 'lifecycle'>): ApprovalPolicy {
    return policyForModel(this.options.config, model);
  }

  async transition(options: {
    model: HubModel;
    version: HubVersion;
    action: TransitionAction;
    actor: string;
    /**
     * The kind of principal acting; only users can approve, request
     * changes, reject or revoke.
     */
    actorKind: 'user' | 'service' | 'none';
    comment?: string;
    expectedRevision?: number;
    /** Runs in the transition's transaction (see `ApplyTransitionOptions`). */
    onApplied?: ApplyTransitionOptions['onApplied'];
  }): Promise<{
    version: HubVersion;
    transition: TransitionResult;
    requiredApprovals: number;
  }> {
    const { model, version, action, actor, comment } = options;
    const rule = TRANSITIONS[action];
    if (rule.commentRequired && !comment?.trim()) {
      throw new InputError(
        `A comment giving the reason is required to ${action.replace(
          '_',
          ' ',
        )} a version`,
      );
    }
    const policy = this.policyFor(model);
    const transition = await this.options.store.applyTransition({
      versionId: version.id,
      action,
      actor,
      comment,
      expectedRevision: options.expectedRevision,
      policy,
      actorKind: options.actorKind,
      onApplied: options.onApplied,
    });
    const updated = (await this.options.hubStore.getVersion({
      modelId: model.id,
      label: version.label,
    }))!;

    const notification = transitionNotification({
      model,
      label: version.label,
      action,
      to: transition.to,
      actor,
      comment,
      policy,
    });
    if (notification && this.options.notifications) {
      try {
        await this.options.notifications.send(notification);
      } catch (error) {
        this.options.logger.warn(
          `Could not send the notification of ${action} of ${model.entityRef} ${version.label}: ${error}`,
        );
      }
    }
    const completed = action !== 'approve' || transition.to === 'approved';
    await this.emit(completed ? rule.event : 'version.approval_recorded', {
      modelRef: model.entityRef,
      versionLabel: version.label,
      actor,
      model: {
        entityRef: model.entityRef,
        owner: model.owner,
        type: model.type,
        lifecycle: model.lifecycle,
      },
      version: {
        label: version.label,
        state: transition.to,
        previousState: transition.from,
        revision: updated.revision,
        manifestDigest: updated.manifestDigest,
      },
      action,
      comment,
      round: transition.round,
      approvals: transition.approvals,
      requiredApprovals: policy.requiredApprovals,
    });
    return {
      version: updated,
      transition,
      requiredApprovals: policy.requiredApprovals,
    };
  }

  async addComment(options: {
    version: HubVersion;
    parentId?: string;
    author: string;
    body: string;
  }): Promise<VersionComment> {
    return this.options.store.addComment({
      versionId: options.version.id,
      parentId: options.parentId,
      author: options.author,
      body: options.body,
    });
  }

  /** The comments of a version as threads, oldest first. */
  async commentThreads(version: HubVersion): Promise<CommentThread[]> {
    const comments = await this.options.store.listComments({
      versionId: version.id,
    });
    const byId = new Map<string, CommentThread>(
      comments.map(c => [c.id, { ...c, replies: [] }]),
    );
    const roots: CommentThread[] = [];
    for (const c of comments) {
      const node = byId.get(c.id)!;
      const parent = c.parentId ? byId.get(c.parentId) : undefined;
      (parent ? parent.replies : roots).push(node);
    }
    return roots;
  }

  async waiveCheck(options: {
    version: HubVersion;
    checkName: string;
    reason: string;
    actor: string;
    /** Only users can waive; service principals never can. */
    actorKind: 'user' | 'service' | 'none';
  }): Promise<CheckWaiver> {
    if (options.actorKind !== 'user') {
      throw new NotAllowedError(
        `Separation of duties: only a signed-in user can waive a check; ${options.actor} is a service principal`,
      );
    }
    // states in which checks can still be waived
    if (!WAIVABLE_VERSION_STATES.includes(options.version.state)) {
      throw new ConflictError(
        `Checks of version ${options.version.label} cannot be waived: it is ${options.version.state}`,
      );
    }
    return this.options.store.addWaiver({
      versionId: options.version.id,
      checkName: options.checkName,
      reason: options.reason,
      waivedBy: options.actor,
    });
  }

  async diff(
    model: HubModel,
    version: HubVersion,
    againstLabel?: string,
  ): Promise<VersionDiff> {
    const { hubStore, store } = this.options;
    let base: HubVersion | undefined;
    if (againstLabel) {
      base = await hubStore.getVersion({
        modelId: model.id,
        label: againstLabel,
      });
      if (!base) {
        throw new NotFoundError(
          `Version ${againstLabel} of model ${model.entityRef} not found`,
        );
      }
    } else {
      const previous = await store.findPreviousApproved({
        modelId: model.id,
        versionId: version.id,
      });
      base = previous
        ? await hubStore.getVersion({
            modelId: model.id,
            label: previous.label,
          })
        : undefined;
    }
    const [target, baseList, checks, baseChecks] = await Promise.all([
      this.diffFiles(version.id),
      base ? this.diffFiles(base.id) : undefined,
      store.listChecks({ versionId: version.id }),
      base ? store.listChecks({ versionId: base.id }) : [],
    ]);
    // two synced file lists compare by their upstream identity, whatever
    // was downloaded yet; otherwise by SHA-256
    const byIdentity = Boolean(target.listed && baseList?.listed);
    const strip = (files: DiffFile[]) =>
      byIdentity
        ? files
        : files.map(f => ({ path: f.path, size: f.size, sha256: f.sha256 }));
    const files = strip(target.files);
    const baseFiles = baseList ? strip(baseList.files) : [];
    return diffVersions({
      base: base
        ? {
            version: base,
            files: baseFiles,
            parameters: parametersFromChecks(baseChecks),
          }
        : undefined,
      target: { version, files, parameters: parametersFromChecks(checks) },
      modelLicense: model.license,
    });
  }

  /**
   * The files of a version for a diff: its stored files, and for a version
   * with a synced file list (Hugging Face) that list, the files not yet
   * downloaded with their upstream digest (LFS sha256, or `git:<blob id>`).
   */
  private async diffFiles(
    versionId: string,
  ): Promise<{ files: DiffFile[]; listed: boolean }> {
    const { hubStore } = this.options;
    const [stored, expected] = await Promise.all([
      hubStore.listFiles({ versionId }),
      hubStore.listExpectedFiles({ versionId }),
    ]);
    if (!expected.length) {
      return { files: stored, listed: false };
    }
    const byPath = new Map(stored.map(f => [f.path, f]));
    const files: DiffFile[] = expected.map(e => {
      const identity = e.sha256 ?? `git:${e.gitOid}`;
      return {
        path: e.path,
        size: e.size,
        sha256: byPath.get(e.path)?.sha256 ?? identity,
        identity,
      };
    });
    return { files, listed: true };
  }

  /** Everything a reviewer needs, in one answer. */
  async review(model: HubModel, version: HubVersion) {
    const { store } = this.options;
    const policy = this.policyFor(model);
    const [submissions, decisions, checks, waivers, comments, diff, history] =
      await Promise.all([
        store.listSubmissions({ versionId: version.id }),
        store.listDecisions({ versionId: version.id }),
        store.listChecks({ versionId: version.id }),
        store.listWaivers({ versionId: version.id }),
        this.commentThreads(version),
        this.diff(model, version),
        this.history(model, version),
      ]);
    const submission = submissions[submissions.length - 1];
    const round = submission?.round ?? 0;
    const approvals = [
      ...new Set(
        decisions
          .filter(d => d.round === round && d.decision === 'approve')
          .map(d => d.reviewer),
      ),
    ];
    return {
      version,
      policy,
      round,
      submission,
      submissions,
      approvals: {
        count: approvals.length,
        required: policy.requiredApprovals,
        reviewers: approvals,
      },
      decisions,
      checks: {
        items: checks,
        waivers,
        blocking: blockingChecks({
          requiredChecks: policy.requiredChecks,
          checks,
          waivers,
        }),
      },
      comments,
      diff,
      history,
    };
  }

  async history(model: HubModel, version: HubVersion) {
    return this.options.store.listTimeline({
      modelRef: model.entityRef,
      versionLabel: version.label,
    });
  }

  async getActiveVersion(model: HubModel): Promise<ActiveVersion | undefined> {
    return this.active.getActiveVersion(model);
  }

  /**
   * THE served version of a model, with its recorded active version: what
   * the REST API answers as `activeVersion` and the mirror serves as
   * `main` (see `servedVersion.ts`).
   */
  async servedVersion(model: HubModel): Promise<ServedVersion> {
    return this.active.servedVersion(model);
  }

  async activeVersionWithHistory(model: HubModel): Promise<{
    active: ActiveVersion | null;
    history: ActiveVersionChange[];
  }> {
    return this.active.activeVersionWithHistory(model);
  }

  /**
   * Makes an approved version the active one. `expectedActive` is the label
   * of the active version the caller saw (null: none); a different one is
   * a conflict.
   */
  async promote(options: {
    model: HubModel;
    version: HubVersion;
    actor: string;
    expectedActive?: string | null;
  }): Promise<ActiveVersion> {
    return this.active.promote(options);
  }

  /**
   * Makes an earlier approved version active again: the given one, or the
   * one that was active before the current one.
   */
  async rollback(options: {
    model: HubModel;
    label?: string;
    actor: string;
    /** The active version the caller saw (null: none); 409 when it changed. */
    expectedActive?: string | null;
  }): Promise<ActiveVersion> {
    return this.active.rollback(options);
  }

  /** Queues webhooks; a failure to log them never fails the request. */
  private async emit(
    ...args: Parameters<WebhookDispatcher['dispatch']>
  ): Promise<void> {
    try {
      await this.webhooks.dispatch(...args);
    } catch (error) {
      this.options.logger.warn(
        `Could not queue webhooks of ${args[0]}: ${error}`,
      );
    }
  }
}
