import { randomUUID } from 'node:crypto';
import { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { Knex } from 'knex';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { blockingChecks } from '../approvals/checks';
import type { VersionDiff } from '../approvals/diff';
import { modelLink } from '../approvals/notifications';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel, VersionState } from '../database/types';
import { HfRepo, HuggingFaceStore } from './HuggingFaceStore';

/** What the scheduled sync does with a new upstream commit. @internal */
export type DriftPolicy = 'review' | 'notify' | 'ignore';

/** @internal */
export const DRIFT_POLICIES: readonly DriftPolicy[] = [
  'review',
  'notify',
  'ignore',
];

/** Where a drift version stands. @internal */
export type DriftStatus =
  | 'awaiting_files'
  | 'submitted'
  | 'notified'
  | 'ignored'
  | 'blocked'
  | 'failed';

/** The actor of the drift review in the audit trail and the review. @internal */
export const DRIFT_ACTOR = 'huggingface-sync';

/** The notification topic of upstream drift. @internal */
export const DRIFT_TOPIC = 'model-hub:drift';

/** The newest drift version of a model, for its page. @public */
export type DriftVersionInfo = {
  label: string;
  state: VersionState;
  commit: string;
  previousCommit?: string;
  baseLabel?: string;
  policy: DriftPolicy;
  status: DriftStatus;
  detail?: string;
  createdAt: string;
  updatedAt: string;
};

/** The sync state of a model with a Hugging Face registration. @public */
export type ModelSyncInfo = {
  repoId: string;
  revision: string;
  syncState: HfRepo['syncState'];
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  drift: boolean;
  lastError?: string;
  lastErrorAt?: string;
  onDrift: DriftPolicy;
  driftVersion?: DriftVersionInfo;
};

type DbDate = Date | string | number;

function toIso(value: DbDate | null | undefined): string | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value)).toISOString();
  }
  return new Date(value).toISOString();
}

/** A one-line summary of a diff, for notifications and the audit trail. */
export function diffSummary(diff: VersionDiff): string {
  const f = diff.files;
  const parts = [
    `${f.added.length} added`,
    `${f.removed.length} removed`,
    `${f.changed.length} changed`,
    `${f.unchanged} unchanged`,
  ];
  const size = diff.totalSize.changed
    ? `; size ${diff.totalSize.from ?? 0} → ${diff.totalSize.to ?? 0} bytes`
    : '';
  const license = diff.license.changed
    ? `; license ${diff.license.from ?? 'none'} → ${diff.license.to ?? 'none'}`
    : '';
  const against = diff.base
    ? ` against ${diff.base.label}`
    : ' (no approved version to compare with)';
  const changedPaths = [
    ...f.added.map(x => `+${x.path}`),
    ...f.removed.map(x => `-${x.path}`),
    ...f.changed.map(x => `~${x.path}`),
  ];
  const listed = changedPaths.length
    ? `: ${changedPaths.slice(0, 10).join(', ')}${
        changedPaths.length > 10 ? `, … ${changedPaths.length - 10} more` : ''
      }`
    : '';
  return `Files${against}: ${parts.join(', ')}${size}${license}${listed}`;
}

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
  ) {}

  get policy(): DriftPolicy {
    return this.options.policy;
  }

  private async audit(
    eventId: string,
    model: HubModel,
    versionLabel: string,
    meta: Record<string, string | number | boolean | null>,
  ) {
    const { auditor, store } = this.options;
    try {
      if (auditor) {
        const event = await auditor.createEvent({
          eventId,
          severityLevel: 'medium',
          meta: {
            modelRef: model.entityRef,
            versionLabel,
            actor: DRIFT_ACTOR,
            ...meta,
          },
        });
        await event.success();
      }
      await store.addAuditEvent({
        eventId,
        actor: DRIFT_ACTOR,
        modelRef: model.entityRef,
        versionLabel,
        meta,
      });
    } catch (error) {
      this.options.logger.warn(
        `Could not audit ${eventId} of ${model.entityRef} ${versionLabel}: ${error}`,
      );
    }
  }

  private async notify(
    model: HubModel,
    label: string,
    title: string,
    description: string,
    severity: 'normal' | 'high' = 'normal',
  ) {
    const { notifications, approvals, logger } = this.options;
    if (!notifications) {
      return;
    }
    const reviewers = approvals
      ? approvals.policyFor(model).reviewerGroups
      : [];
    try {
      await notifications.send({
        recipients: {
          type: 'entity',
          entityRef: [...new Set([model.owner, ...reviewers])],
        },
        payload: {
          title,
          description,
          link: `${modelLink(model)}/versions/${encodeURIComponent(label)}`,
          topic: DRIFT_TOPIC,
          severity,
          scope: `${model.entityRef}@${label}:drift`,
        },
      });
    } catch (error) {
      logger.warn(
        `Could not send the drift notification of ${model.entityRef} ${label}: ${error}`,
      );
    }
  }

  private async setStatus(id: string, status: DriftStatus, detail?: string) {
    await this.options
      .db('hf_drift_versions')
      .where({ id })
      .update({
        status,
        detail: detail?.slice(0, 4000) ?? null,
        updated_at: new Date(),
      });
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
    const { db, store, hfStore, approvals, logger } = this.options;
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
    const existing = await db('hf_drift_versions')
      .where({ version_id: version.id })
      .first('id');
    if (existing) {
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
    const now = new Date();
    const id = randomUUID();
    await db('hf_drift_versions').insert({
      id,
      model_id: model.id,
      version_id: version.id,
      commit,
      previous_commit: previousCommit,
      base_version_id: base?.versionId ?? null,
      policy,
      status,
      detail: null,
      created_at: now,
      updated_at: now,
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
    const { db, store, approvals, logger } = this.options;
    const result = { submitted: 0 };
    if (!approvals) {
      return result;
    }
    const query = db('hf_drift_versions as d')
      .join('model_versions as v', 'v.id', 'd.version_id')
      .join('models as m', 'm.id', 'd.model_id')
      .where('d.status', 'awaiting_files')
      .select(
        'd.id',
        'd.commit',
        'd.previous_commit',
        'v.label',
        'm.entity_ref',
      )
      .orderBy('d.created_at')
      .limit(100);
    if (filter.versionId) {
      query.where('d.version_id', filter.versionId);
    }
    for (const row of await query) {
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
          await db('hf_drift_versions')
            .where({ id: row.id })
            .update({
              detail: `Waiting for checks: ${blocking
                .map(b => `${b.name} (${b.status})`)
                .join(', ')}`,
              updated_at: new Date(),
            });
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
        await this.options
          .db('hf_drift_versions')
          .where({ id: row.id })
          .update({ detail: message.slice(0, 4000), updated_at: new Date() });
      }
    }
    return result;
  }

  /** The newest drift version of a model. */
  async latest(modelId: string): Promise<DriftVersionInfo | undefined> {
    const row = await this.options
      .db('hf_drift_versions as d')
      .join('model_versions as v', 'v.id', 'd.version_id')
      .leftJoin('model_versions as b', 'b.id', 'd.base_version_id')
      .where('d.model_id', modelId)
      .orderBy([
        { column: 'd.created_at', order: 'desc' },
        { column: 'd.id', order: 'desc' },
      ])
      .first('d.*', 'v.label', 'v.state', 'b.label as base_label');
    if (!row) {
      return undefined;
    }
    return {
      label: row.label,
      state: row.state,
      commit: row.commit,
      ...(row.previous_commit && { previousCommit: row.previous_commit }),
      ...(row.base_label && { baseLabel: row.base_label }),
      policy: row.policy,
      status: row.status,
      ...(row.detail && { detail: row.detail }),
      createdAt: toIso(row.created_at)!,
      updatedAt: toIso(row.updated_at)!,
    };
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
