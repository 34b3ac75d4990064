import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { Knex } from 'knex';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { blockingChecks } from '../approvals/checks';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel } from '../database/types';
import {
  diffSummary,
  DRIFT_ACTOR,
  DriftPolicy,
  DriftStatus,
  DriftVersionInfo,
  ModelSyncInfo,
} from './driftInfo';
import { auditDrift, notifyDrift } from './driftNotices';
import { DriftVersionsStore } from './DriftVersionsStore';
import { HuggingFaceStore } from './HuggingFaceStore';

export {
  DRIFT_ACTOR,
  DRIFT_POLICIES,
  DRIFT_TOPIC,
  diffSummary,
} from './driftInfo';
export type {
  DriftPolicy,
  DriftStatus,
  DriftVersionInfo,
  ModelSyncInfo,
} from './driftInfo';

/**
 * Upstream drift as a review. When a sync moves a tracked revision of a
 * registered repo to a new commit, the sync creates the version of that
 * commit (its metadata and file list; its files are inspected as the
 * download stores them) and {@link DriftReview.recordDrift} applies
 * `modelHub.huggingface.onDrift`:
 *
 * - `review` (default): the owners and reviewers are notified with the diff
 *   against the active approved version, and the version is submitted for
 *   review by `huggingface-sync` once its downloads are done and its
 *   required checks pass ({@link DriftReview.advance}); a failed check
 *   blocks it (notified once);
 * - `notify`: the same notification, the version stays a draft;
 * - `ignore`: the draft only.
 *
 * @internal
 */
export class DriftReview {
  private readonly driftVersions: DriftVersionsStore;

  constructor(
    private readonly options: {
      db: Knex;
      store: ModelHubStore;
      hfStore: HuggingFaceStore;
      policy: DriftPolicy;
      logger: LoggerService;
      approvals?: Pick<
        ApprovalsService,
        'transition' | 'diff' | 'getActiveVersion' | 'policyFor' | 'store'
      >;
      notifications?: NotificationService;
      auditor?: AuditorService;
      /** The job type of the downloads, to wait for them. */
      downloadJobType: string;
    },
  ) {
    this.driftVersions = new DriftVersionsStore(options.db);
  }

  get policy(): DriftPolicy {
    return this.options.policy;
  }

  private async audit(
    eventId: string,
    model: HubModel,
    versionLabel: string,
    meta: Record<string, string | number | boolean | null>,
  ) {
    await auditDrift(this.options, eventId, model, versionLabel, meta);
  }

  private async notify(
    model: HubModel,
    label: string,
    title: string,
    description: string,
    severity: 'normal' | 'high' = 'normal',
  ) {
    await notifyDrift(this.options, model, label, title, description, severity);
  }

  private async setStatus(id: string, status: DriftStatus, detail?: string) {
    await this.driftVersions.setStatus(id, status, detail);
  }

  /**
   * Records the version a sync created for a new upstream commit of the
   * tracked revision and applies the drift policy. Idempotent per version.
   */
  async recordDrift(options: {
    modelId: string;
    versionLabel: string;
    commit: string;
    previousCommit: string;
  }): Promise<void> {
    const { store, hfStore, approvals, logger } = this.options;
    const { commit, previousCommit } = options;
    const repo = await hfStore.getRepo({ modelId: options.modelId });
    const model = repo && (await store.getModel({ entityRef: repo.modelRef }));
    const version =
      model &&
      (await store.getVersion({
        modelId: model.id,
        label: options.versionLabel,
      }));
    if (!repo || !model || !version) {
      return;
    }
    if (await this.driftVersions.hasVersion(version.id)) {
      return;
    }
    const active = approvals
      ? await approvals.getActiveVersion(model)
      : undefined;
    const base =
      active && active.state === 'approved' && active.versionId !== version.id
        ? active
        : undefined;
    const policy = this.options.policy;
    let status: DriftStatus = 'awaiting_files';
    if (policy === 'notify') {
      status = 'notified';
    } else if (policy === 'ignore') {
      status = 'ignored';
    }
    await this.driftVersions.insert({
      modelId: model.id,
      versionId: version.id,
      commit,
      previousCommit,
      baseVersionId: base?.versionId,
      policy,
      status,
    });
    let summary = '';
    if (approvals) {
      try {
        summary = diffSummary(
          await approvals.diff(model, version, base?.label),
        );
      } catch (error) {
        summary = `The diff is not available: ${(error as Error).message}`;
      }
    }
    await this.audit('huggingface-drift', model, version.label, {
      repo: repo.repoId,
      revision: repo.revision,
      commit,
      previousCommit,
      policy,
      baseLabel: base?.label ?? null,
    });
    logger.info(
      `Upstream drift of ${repo.repoId}@${repo.revision}: ${previousCommit} → ${commit}, version ${version.label} (${policy})`,
    );
    if (policy !== 'ignore') {
      const name = model.title ?? model.name;
      await this.notify(
        model,
        version.label,
        `Upstream change: ${name} ${version.label}`,
        `${repo.repoId}@${repo.revision} moved from ${previousCommit.slice(
          0,
          12,
        )} to ${commit.slice(0, 12)}; version ${version.label} of ${
          model.entityRef
        } ${
          policy === 'review'
            ? 'will be submitted for review once its files are in and its required checks pass'
            : 'is a draft'
        }. ${summary}`,
      );
    }
    if (policy === 'review') {
      await this.advance({ versionId: version.id });
    }
  }

  /**
   * Moves drift versions waiting for their files on: submits the ones
   * whose downloads are done and whose required checks pass; marks the
   * ones with a failed check as blocked (notified once) and those whose
   * download failed as failed. Returns how many were submitted.
   */
  async advance(
    filter: {
      versionId?: string;
      /** A download job that just ended well (its row still says running). */
      finishedJobId?: string;
    } = {},
  ): Promise<{ submitted: number }> {
    const { store, approvals, logger } = this.options;
    const result = { submitted: 0 };
    if (!approvals) {
      return result;
    }
    const rows = await this.driftVersions.listAwaitingFiles({
      versionId: filter.versionId,
    });
    for (const row of rows) {
      try {
        const model = await store.getModel({ entityRef: row.entity_ref });
        const version =
          model &&
          (await store.getVersion({ modelId: model.id, label: row.label }));
        if (!model || !version) {
          continue;
        }
        if (
          version.state !== 'draft' &&
          version.state !== 'changes_requested'
        ) {
          await this.setStatus(
            row.id,
            'submitted',
            `The version is ${version.state}`,
          );
          continue;
        }
        const jobs = await store.listJobs({
          offset: 0,
          limit: 100,
          modelId: model.id,
          type: this.options.downloadJobType,
        });
        const own = jobs.items
          .filter(j => j.versionId === version.id)
          .map(j =>
            j.id === filter.finishedJobId
              ? { ...j, state: 'succeeded' as const }
              : j,
          );
        if (own.some(j => j.state === 'queued' || j.state === 'running')) {
          continue; // files are arriving
        }
        const latest = own[0]; // newest first
        if (
          latest &&
          (latest.state === 'failed' || latest.state === 'cancelled')
        ) {
          await this.setStatus(
            row.id,
            'failed',
            `The download of its files ${latest.state}${
              latest.error ? `: ${latest.error}` : ''
            }; retry job ${latest.id}`,
          );
          continue;
        }
        const [checks, waivers] = await Promise.all([
          approvals.store.listChecks({ versionId: version.id }),
          approvals.store.listWaivers({ versionId: version.id }),
        ]);
        const blocking = blockingChecks({
          requiredChecks: approvals.policyFor(model).requiredChecks,
          checks,
          waivers,
          contentDigest: version.contentDigest,
        });
        const failed = blocking.filter(
          b => b.status === 'failed' || b.status === 'error',
        );
        if (failed.length) {
          const detail = `Required checks failed: ${failed
            .map(b => b.name)
            .join(', ')}; an admin may waive them, then submit`;
          await this.setStatus(row.id, 'blocked', detail);
          await this.notify(
            model,
            version.label,
            `Upstream change blocked: ${model.title ?? model.name} ${
              version.label
            }`,
            `Version ${version.label} of ${
              model.entityRef
            } (upstream commit ${String(row.commit).slice(
              0,
              12,
            )}) was not submitted for review. ${detail}.`,
            'high',
          );
          continue;
        }
        if (blocking.length) {
          await this.driftVersions.setDetail(
            row.id,
            `Waiting for checks: ${blocking
              .map(b => `${b.name} (${b.status})`)
              .join(', ')}`,
          );
          continue;
        }
        await approvals.transition({
          model,
          version,
          action: 'submit',
          actor: DRIFT_ACTOR,
          actorKind: 'service',
          comment: `Upstream drift: the tracked revision moved from ${String(
            row.previous_commit ?? '',
          ).slice(0, 12)} to ${String(row.commit).slice(0, 12)}`,
          expectedRevision: version.revision,
        });
        await this.audit('version-submit', model, version.label, {
          from: version.state,
          to: 'in_review',
          drift: true,
        });
        await this.setStatus(row.id, 'submitted');
        result.submitted += 1;
      } catch (error) {
        const message = (error as Error).message;
        logger.warn(
          `Drift version ${row.entity_ref} ${row.label} not submitted: ${message}`,
        );
        await this.driftVersions.setDetail(row.id, message.slice(0, 4000));
      }
    }
    return result;
  }

  /** The newest drift version of a model. */
  async latest(modelId: string): Promise<DriftVersionInfo | undefined> {
    return this.driftVersions.latest(modelId);
  }

  /** The sync state of a model for its page; undefined without a registration. */
  async describe(
    model: Pick<HubModel, 'id'>,
  ): Promise<ModelSyncInfo | undefined> {
    const repo = await this.options.hfStore.getRepo({ modelId: model.id });
    if (!repo) {
      return undefined;
    }
    const driftVersion = await this.latest(model.id);
    return {
      repoId: repo.repoId,
      revision: repo.revision,
      syncState: repo.syncState,
      ...(repo.lastSyncedCommit && { lastSyncedCommit: repo.lastSyncedCommit }),
      ...(repo.lastSyncedAt && { lastSyncedAt: repo.lastSyncedAt }),
      ...(repo.upstreamCommit && { upstreamCommit: repo.upstreamCommit }),
      ...(repo.upstreamCheckedAt && {
        upstreamCheckedAt: repo.upstreamCheckedAt,
      }),
      drift: repo.drift,
      ...(repo.lastError && { lastError: repo.lastError }),
      ...((repo as { lastErrorAt?: string }).lastErrorAt && {
        lastErrorAt: (repo as { lastErrorAt?: string }).lastErrorAt,
      }),
      onDrift: this.options.policy,
      ...(driftVersion && { driftVersion }),
    };
  }
}
