import { randomUUID } from 'node:crypto';
import {
  DatabaseService,
  isDatabaseConflictError,
} from '@backstage/backend-plugin-api';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import { Knex } from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import {
  ModelCondition,
  whereReadableModel,
} from '../database/modelReadFilter';
import { VersionState } from '../database/types';
import {
  ActiveVersion,
  ActiveVersionChange,
  ApplyTransitionOptions,
  ApprovalsStore,
  CheckStatus,
  CheckWaiver,
  ReviewQueueItem,
  TimelineEntry,
  TransitionResult,
  VersionCheck,
  VersionComment,
  VersionDecision,
  VersionSubmission,
  WebhookDelivery,
} from './ApprovalsStore';
import { blockingChecks } from './checks';
import { TRANSITIONS, TransitionAction } from './transitions';

/** Decisions only a signed-in user can make, never a service principal. */
const DECISIONS: TransitionAction[] = [
  'approve',
  'request_changes',
  'reject',
  'revoke',
];

type DbDate = Date | string | number;

function toIso(value: DbDate): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value)).toISOString();
  }
  return new Date(value).toISOString();
}

function opt<T>(value: T | null | undefined): T | undefined {
  return value === null || value === undefined ? undefined : value;
}

function parseJson(value: string | null): any {
  try {
    return value ? JSON.parse(value) : {};
  } catch {
    return {};
  }
}

/**
 * The Knex implementation of {@link ApprovalsStore}, on SQLite and
 * PostgreSQL; shares the plugin's database and migrations.
 *
 * @internal
 */
export class DatabaseApprovalsStore implements ApprovalsStore {
  static async create(options: {
    database: DatabaseService;
    skipMigrations?: boolean;
  }): Promise<DatabaseApprovalsStore> {
    const knex = await options.database.getClient();
    if (!options.skipMigrations && !options.database.migrations?.skip) {
      await knex.migrate.latest({
        directory: DatabaseModelHubStore.migrationsDirectory,
      });
    }
    return new DatabaseApprovalsStore(knex);
  }

  private constructor(private readonly db: Knex) {}

  async applyTransition(
    options: ApplyTransitionOptions,
  ): Promise<TransitionResult> {
    const { action, actor, policy } = options;
    const rule = TRANSITIONS[action];
    const now = new Date();
    return this.db.transaction(async tx => {
      // the row lock orders the transition with file commits (which lock
      // the same row) on PostgreSQL; SQLite runs one writer at a time
      const versionQuery = tx('model_versions')
        .where({ id: options.versionId })
        .first(
          'id',
          'model_id',
          'label',
          'state',
          'revision',
          'created_by',
          'manifest_digest',
          'content_digest',
        );
      if (tx.client.config.client === 'pg') {
        versionQuery.forUpdate();
      }
      const version = await versionQuery;
      if (!version) {
        throw new NotFoundError(`Version ${options.versionId} not found`);
      }
      const revision = Number(version.revision);
      if (
        options.expectedRevision !== undefined &&
        options.expectedRevision !== revision
      ) {
        throw new ConflictError(
          `Version ${version.label} is at revision ${revision}, not ${options.expectedRevision}; reload it and try again`,
        );
      }
      const from = version.state as VersionState;
      if (!rule.from.includes(from)) {
        throw new ConflictError(
          `Cannot ${action.replace('_', ' ')} version ${
            version.label
          }: it is ${from}; allowed from ${rule.from.join(' or ')}`,
        );
      }
      if (
        DECISIONS.includes(action) &&
        (options.actorKind ?? 'service') !== 'user'
      ) {
        throw new NotAllowedError(
          `Separation of duties: only a signed-in user can ${action.replace(
            '_',
            ' ',
          )} a version; ${actor} is a service principal`,
        );
      }
      const contentDigest: string | null = version.content_digest ?? null;
      const last = await tx('version_submissions')
        .where({ version_id: version.id })
        .orderBy('round', 'desc')
        .first('round', 'submitted_by', 'content_digest');
      let round = last ? Number(last.round) : 0;
      let to = rule.to;
      let approvals: string[] = [];
      let clearedActive = false;

      const decide = (decision: VersionDecision['decision']) =>
        tx('version_reviews').insert({
          id: randomUUID(),
          version_id: version.id,
          reviewer: actor,
          decision,
          comment: options.comment ?? null,
          subject_digest: version.manifest_digest ?? null,
          content_digest: contentDigest,
          created_at: now,
          round,
        });

      if (action === 'submit') {
        const [checks, waivers] = await Promise.all([
          this.listChecks({ versionId: version.id }, tx),
          this.listWaivers({ versionId: version.id }, tx),
        ]);
        const blocking = blockingChecks({
          requiredChecks: policy.requiredChecks,
          checks,
          waivers,
          contentDigest: contentDigest ?? undefined,
        });
        if (blocking.length) {
          throw new ConflictError(
            `Version ${
              version.label
            } cannot be submitted: required checks have not passed: ${blocking
              .map(b => `${b.name} (${b.status})`)
              .join(', ')}; they must pass or be waived by an admin`,
          );
        }
        round += 1;
        await tx('version_submissions').insert({
          id: randomUUID(),
          version_id: version.id,
          round,
          submitted_by: actor,
          comment: options.comment ?? null,
          submitted_at: now,
          content_digest: contentDigest,
        });
      } else if (action === 'approve') {
        if (policy.separationOfDuties) {
          await this.assertNotAuthor(tx, version, actor);
        }
        if (last?.content_digest && last.content_digest !== contentDigest) {
          throw new ConflictError(
            `The files of version ${version.label} changed after it was submitted (${last.content_digest} submitted, ${contentDigest} now); it cannot be approved`,
          );
        }
        const previous = await tx('version_reviews')
          .where({ version_id: version.id, round, decision: 'approve' })
          .select('reviewer');
        approvals = [...new Set(previous.map(r => r.reviewer as string))];
        if (approvals.includes(actor)) {
          throw new ConflictError(
            `${actor} already approved version ${version.label} in this review round`,
          );
        }
        await decide('approve');
        approvals.push(actor);
        if (approvals.length < policy.requiredApprovals) {
          to = 'in_review';
        }
      } else if (
        action === 'request_changes' ||
        action === 'reject' ||
        action === 'revoke'
      ) {
        await decide(action);
      }

      if (to === 'rejected' || to === 'archived') {
        const removed = await tx('model_active_versions')
          .where({ version_id: version.id })
          .delete();
        if (removed) {
          clearedActive = true;
          await tx('model_active_version_history').insert({
            model_id: version.model_id,
            version_id: null,
            action: 'clear',
            actor,
            created_at: now,
          });
        }
      }

      const updated = await tx('model_versions')
        .where({ id: version.id, revision, state: from })
        .update({
          state: to,
          revision: revision + 1,
          updated_at: now,
          // an approval is bound to the content it approved; the mirror,
          // the download route and deployments serve the version only
          // while its files still match
          ...(to === 'approved' && from !== 'approved'
            ? { approved_digest: contentDigest }
            : {}),
        });
      if (!updated) {
        throw new ConflictError(
          `Version ${version.label} was changed concurrently; reload it and try again`,
        );
      }
      return { from, to, round, approvals, clearedActive };
    });
  }

  /**
   * Separation of duties: the approver is neither the creator of the
   * version, nor anyone who submitted it, nor anyone who put a file into
   * it.
   */
  private async assertNotAuthor(
    tx: Knex.Transaction,
    version: { id: string; label: string; created_by: string },
    actor: string,
  ): Promise<void> {
    const deny = (role: string) =>
      new NotAllowedError(
        `Separation of duties: ${actor} ${role} version ${version.label} and cannot approve it`,
      );
    const submitted = await tx('version_submissions')
      .where({ version_id: version.id, submitted_by: actor })
      .first('round');
    if (submitted) {
      throw deny('submitted');
    }
    if (version.created_by === actor) {
      throw deny('created');
    }
    const contributed = await tx('version_contributors')
      .where({ version_id: version.id, principal: actor })
      .first('principal');
    if (contributed) {
      throw deny('uploaded files into');
    }
  }

  async listSubmissions(options: {
    versionId: string;
  }): Promise<VersionSubmission[]> {
    const rows = await this.db('version_submissions')
      .where({ version_id: options.versionId })
      .orderBy('round', 'asc');
    return rows.map(r => ({
      round: Number(r.round),
      submittedBy: r.submitted_by,
      comment: opt(r.comment),
      contentDigest: opt(r.content_digest),
      submittedAt: toIso(r.submitted_at),
    }));
  }

  async listDecisions(options: {
    versionId: string;
  }): Promise<VersionDecision[]> {
    const rows = await this.db('version_reviews')
      .where({ version_id: options.versionId })
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ]);
    return rows.map(r => ({
      id: r.id,
      round: Number(r.round),
      reviewer: r.reviewer,
      decision: r.decision,
      comment: opt(r.comment),
      subjectDigest: opt(r.subject_digest),
      contentDigest: opt(r.content_digest),
      createdAt: toIso(r.created_at),
    }));
  }

  async addComment(options: {
    versionId: string;
    parentId?: string;
    author: string;
    body: string;
  }): Promise<VersionComment> {
    const row = {
      id: randomUUID(),
      version_id: options.versionId,
      parent_id: options.parentId ?? null,
      author: options.author,
      body: options.body,
      created_at: new Date(),
    };
    await this.db.transaction(async tx => {
      if (options.parentId) {
        const parent = await tx('version_comments')
          .where({ id: options.parentId, version_id: options.versionId })
          .first('id');
        if (!parent) {
          throw new InputError(
            `Comment ${options.parentId} is not a comment of this version`,
          );
        }
      }
      await tx('version_comments').insert(row);
    });
    return {
      id: row.id,
      parentId: options.parentId,
      author: row.author,
      body: row.body,
      createdAt: row.created_at.toISOString(),
    };
  }

  async listComments(options: {
    versionId: string;
  }): Promise<VersionComment[]> {
    const rows = await this.db('version_comments')
      .where({ version_id: options.versionId })
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ]);
    return rows.map(r => ({
      id: r.id,
      parentId: opt(r.parent_id),
      author: r.author,
      body: r.body,
      createdAt: toIso(r.created_at),
    }));
  }

  async recordCheck(options: {
    versionId: string;
    name: string;
    status: CheckStatus;
    required?: boolean;
    summary?: string;
    detailsUrl?: string;
  }): Promise<VersionCheck> {
    const now = new Date();
    const update = {
      status: options.status,
      summary: options.summary ?? null,
      details_url: options.detailsUrl ?? null,
      updated_at: now,
      ...(options.required !== undefined ? { required: options.required } : {}),
    };
    await this.db('version_checks')
      .insert({
        id: randomUUID(),
        version_id: options.versionId,
        name: options.name,
        required: options.required ?? false,
        created_at: now,
        ...update,
      })
      .onConflict(['version_id', 'name'])
      .merge(update);
    const checks = await this.listChecks({ versionId: options.versionId });
    return checks.find(c => c.name === options.name)!;
  }

  async listChecks(
    options: { versionId: string },
    tx: Knex = this.db,
  ): Promise<VersionCheck[]> {
    const rows = await tx('version_checks')
      .where({ version_id: options.versionId })
      .orderBy('name', 'asc');
    return rows.map(r => ({
      name: r.name,
      status: r.status,
      required: Boolean(r.required),
      summary: opt(r.summary),
      detailsUrl: opt(r.details_url),
      // the column is added by the uploads migration
      details: r.details ? parseJson(r.details) : undefined,
      createdAt: toIso(r.created_at),
      updatedAt: toIso(r.updated_at),
    }));
  }

  async addWaiver(options: {
    versionId: string;
    checkName: string;
    reason: string;
    waivedBy: string;
  }): Promise<CheckWaiver> {
    const now = new Date();
    let contentDigest: string | undefined;
    try {
      await this.db.transaction(async tx => {
        const versionQuery = tx('model_versions')
          .where({ id: options.versionId })
          .first('content_digest');
        if (tx.client.config.client === 'pg') {
          versionQuery.forUpdate();
        }
        const version = await versionQuery;
        if (!version) {
          throw new NotFoundError(`Version ${options.versionId} not found`);
        }
        contentDigest = opt(version.content_digest);
        const existing = await tx('check_waivers')
          .where({
            version_id: options.versionId,
            check_name: options.checkName,
          })
          .first('id', 'content_digest');
        if (existing && existing.content_digest === version.content_digest) {
          throw new ConflictError(
            `Check ${options.checkName} is already waived`,
          );
        }
        // a waiver of other content has lapsed: the new one replaces it
        if (existing) {
          await tx('check_waivers').where({ id: existing.id }).delete();
        }
        await tx('check_waivers').insert({
          id: randomUUID(),
          version_id: options.versionId,
          check_name: options.checkName,
          reason: options.reason,
          waived_by: options.waivedBy,
          created_at: now,
          content_digest: version.content_digest ?? null,
        });
      });
    } catch (error) {
      if (isDatabaseConflictError(error)) {
        throw new ConflictError(
          `Check ${options.checkName} is already waived`,
          error,
        );
      }
      throw error;
    }
    return {
      checkName: options.checkName,
      reason: options.reason,
      waivedBy: options.waivedBy,
      contentDigest,
      lapsed: false,
      createdAt: now.toISOString(),
    };
  }

  async listWaivers(
    options: { versionId: string },
    tx: Knex = this.db,
  ): Promise<CheckWaiver[]> {
    const rows = await tx('check_waivers as w')
      .join('model_versions as v', 'v.id', 'w.version_id')
      .where({ 'w.version_id': options.versionId })
      .orderBy('w.check_name', 'asc')
      .select('w.*', 'v.content_digest as current_digest');
    return rows.map(r => ({
      checkName: r.check_name,
      reason: r.reason,
      waivedBy: r.waived_by,
      contentDigest: opt(r.content_digest),
      // a waiver holds for the content it was granted on only
      lapsed: !r.content_digest || r.content_digest !== r.current_digest,
      createdAt: toIso(r.created_at),
    }));
  }

  async getActiveVersion(
    options: { modelId: string },
    tx: Knex = this.db,
  ): Promise<ActiveVersion | undefined> {
    const row = await tx('model_active_versions as a')
      .join('model_versions as v', 'v.id', 'a.version_id')
      .where('a.model_id', options.modelId)
      .first(
        'a.version_id',
        'v.label',
        'v.state',
        'a.promoted_by',
        'a.promoted_at',
      );
    return row
      ? {
          versionId: row.version_id,
          label: row.label,
          state: row.state,
          promotedBy: row.promoted_by,
          promotedAt: toIso(row.promoted_at),
        }
      : undefined;
  }

  async setActiveVersion(options: {
    modelId: string;
    versionId: string;
    expectedVersionId: string | null;
    action: 'promote' | 'rollback';
    actor: string;
  }): Promise<ActiveVersion> {
    const now = new Date();
    const conflict = () =>
      new ConflictError(
        'The active version was changed concurrently; reload and try again',
      );
    try {
      await this.db.transaction(async tx => {
        // a no-op update that locks the version row and proves it approved
        const approved = await tx('model_versions')
          .where({
            id: options.versionId,
            model_id: options.modelId,
            state: 'approved',
          })
          .update({ state: 'approved' });
        if (!approved) {
          throw new ConflictError(
            'Only an approved version can be the active version',
          );
        }
        const row = {
          version_id: options.versionId,
          promoted_by: options.actor,
          promoted_at: now,
        };
        if (options.expectedVersionId === null) {
          await tx('model_active_versions').insert({
            model_id: options.modelId,
            ...row,
          });
        } else {
          const updated = await tx('model_active_versions')
            .where({
              model_id: options.modelId,
              version_id: options.expectedVersionId,
            })
            .update(row);
          if (!updated) {
            throw conflict();
          }
        }
        await tx('model_active_version_history').insert({
          model_id: options.modelId,
          version_id: options.versionId,
          action: options.action,
          actor: options.actor,
          created_at: now,
        });
      });
    } catch (error) {
      if (isDatabaseConflictError(error)) {
        throw conflict();
      }
      throw error;
    }
    return (await this.getActiveVersion({ modelId: options.modelId }))!;
  }

  async listActiveVersionChanges(options: {
    modelId: string;
  }): Promise<ActiveVersionChange[]> {
    const rows = await this.db('model_active_version_history as h')
      .leftJoin('model_versions as v', 'v.id', 'h.version_id')
      .where('h.model_id', options.modelId)
      .orderBy('h.id', 'desc')
      .select('h.id', 'v.label', 'h.action', 'h.actor', 'h.created_at');
    return rows.map(r => ({
      id: Number(r.id),
      label: opt(r.label),
      action: r.action,
      actor: r.actor,
      createdAt: toIso(r.created_at),
    }));
  }

  async listReviewQueue(options: {
    offset: number;
    limit: number;
    modelRef?: string;
    readable?: ModelCondition;
  }): Promise<{ items: ReviewQueueItem[]; totalCount: number }> {
    const query = this.db('model_versions as v')
      .join('models as m', 'm.id', 'v.model_id')
      .where('v.state', 'in_review');
    if (options.modelRef) {
      query.where('m.entity_ref', options.modelRef);
    }
    whereReadableModel(query, this.db, options.readable, {
      column: 'm.id',
      key: 'id',
    });
    const [countRow, rows] = await Promise.all([
      query.clone().count({ count: '*' }).first(),
      query
        .clone()
        .select(
          'v.id',
          'v.label',
          'v.revision',
          'v.created_by',
          'v.updated_at',
          'm.entity_ref',
          'm.owner',
          'm.type',
          'm.lifecycle',
        )
        .orderBy([
          { column: 'v.updated_at', order: 'asc' },
          { column: 'v.id', order: 'asc' },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);
    const ids = rows.map(r => r.id as string);
    const [submissions, approvals] = ids.length
      ? await Promise.all([
          this.db('version_submissions').whereIn('version_id', ids),
          this.db('version_reviews')
            .whereIn('version_id', ids)
            .where('decision', 'approve')
            .select('version_id', 'round', 'reviewer'),
        ])
      : [[], []];
    const items = rows.map(r => {
      const latest = submissions
        .filter(s => s.version_id === r.id)
        .sort((a, b) => Number(b.round) - Number(a.round))[0];
      const round = latest ? Number(latest.round) : 0;
      return {
        modelRef: r.entity_ref,
        owner: r.owner,
        type: r.type,
        lifecycle: r.lifecycle,
        label: r.label,
        revision: Number(r.revision),
        createdBy: r.created_by,
        round,
        submittedBy: latest?.submitted_by,
        submittedAt: latest ? toIso(latest.submitted_at) : undefined,
        approvals: approvals
          .filter(a => a.version_id === r.id && Number(a.round) === round)
          .map(a => a.reviewer as string),
      };
    });
    return { items, totalCount: Number(countRow?.count ?? 0) };
  }

  async findPreviousApproved(options: {
    modelId: string;
    versionId: string;
  }): Promise<{ id: string; label: string } | undefined> {
    const current = await this.db('model_versions')
      .where({ id: options.versionId })
      .first('created_at');
    if (!current) {
      return undefined;
    }
    const row = await this.db('model_versions')
      .where({ model_id: options.modelId })
      .whereIn('state', ['approved', 'deprecated'])
      .whereNot({ id: options.versionId })
      .where('created_at', '<=', current.created_at)
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .first('id', 'label');
    return row ? { id: row.id, label: row.label } : undefined;
  }

  async listTimeline(options: {
    modelRef: string;
    versionLabel?: string;
  }): Promise<TimelineEntry[]> {
    const query = this.db('audit_events')
      .where({ model_ref: options.modelRef })
      .orderBy('id', 'asc')
      .limit(1000);
    if (options.versionLabel) {
      query.where({ version_label: options.versionLabel });
    }
    const rows = await query;
    return rows.map(r => ({
      id: Number(r.id),
      eventId: r.event_id,
      actor: r.actor,
      versionLabel: opt(r.version_label),
      meta: parseJson(r.meta),
      createdAt: toIso(r.created_at),
    }));
  }

  async createDelivery(options: {
    id: string;
    event: string;
    url: string;
    modelRef?: string;
    versionLabel?: string;
    payload: unknown;
  }): Promise<void> {
    const now = new Date();
    await this.db('webhook_deliveries').insert({
      id: options.id,
      event: options.event,
      url: options.url,
      model_ref: options.modelRef ?? null,
      version_label: options.versionLabel ?? null,
      payload: JSON.stringify(options.payload),
      status: 'pending',
      attempts: 0,
      created_at: now,
      updated_at: now,
    });
  }

  async updateDelivery(options: {
    id: string;
    status: WebhookDelivery['status'];
    attempts: number;
    responseStatus?: number;
    error?: string;
  }): Promise<void> {
    await this.db('webhook_deliveries')
      .where({ id: options.id })
      .update({
        status: options.status,
        attempts: options.attempts,
        response_status: options.responseStatus ?? null,
        error: options.error ?? null,
        updated_at: new Date(),
      });
  }

  async claimStaleDeliveries(options: {
    staleBefore: Date;
    limit: number;
  }): Promise<
    Array<{
      id: string;
      event: string;
      url: string;
      attempts: number;
      payload: unknown;
    }>
  > {
    const rows = await this.db('webhook_deliveries')
      .where({ status: 'pending' })
      .andWhere('updated_at', '<', options.staleBefore)
      .orderBy('created_at', 'asc')
      .limit(options.limit)
      .select('id', 'event', 'url', 'attempts', 'payload');
    const claimed = [];
    for (const row of rows) {
      // compare-and-set: of several instances, one claims each delivery
      const updated = await this.db('webhook_deliveries')
        .where({ id: row.id, status: 'pending' })
        .andWhere('updated_at', '<', options.staleBefore)
        .update({ updated_at: new Date() });
      if (updated === 1) {
        claimed.push({
          id: row.id,
          event: row.event,
          url: row.url,
          attempts: Number(row.attempts),
          payload: parseJson(row.payload),
        });
      }
    }
    return claimed;
  }

  async listDeliveries(options: {
    offset: number;
    limit: number;
  }): Promise<{ items: WebhookDelivery[]; totalCount: number }> {
    const [countRow, rows] = await Promise.all([
      this.db('webhook_deliveries').count({ count: '*' }).first(),
      this.db('webhook_deliveries')
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);
    return {
      items: rows.map(r => ({
        id: r.id,
        event: r.event,
        url: r.url,
        modelRef: opt(r.model_ref),
        versionLabel: opt(r.version_label),
        payload: parseJson(r.payload),
        status: r.status,
        attempts: Number(r.attempts),
        responseStatus:
          r.response_status === null ? undefined : Number(r.response_status),
        error: opt(r.error),
        createdAt: toIso(r.created_at),
        updatedAt: toIso(r.updated_at),
      })),
      totalCount: Number(countRow?.count ?? 0),
    };
  }
}
