import {
  DatabaseService,
  isDatabaseConflictError,
} from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';
import { Knex } from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import {
  ModelCondition,
  whereReadableModel,
} from '../database/modelReadFilter';
import { VersionsStore } from '../database/VersionsStore';
import { VersionChecksStore } from '../inspection/VersionChecksStore';
import { ActiveVersionsStore } from './ActiveVersionsStore';
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
import { applyTransition } from './applyTransition';
import { ReviewStore } from './ReviewStore';
import { opt, parseJson, toIso } from './rows';
import { WebhookDeliveriesStore } from './WebhookDeliveriesStore';

/**
 * The Knex implementation of {@link ApprovalsStore}, on SQLite and
 * PostgreSQL; shares the plugin's database and migrations. It writes
 * through the owners of the tables: the review records
 * ({@link ReviewStore}), the active versions ({@link ActiveVersionsStore}),
 * the webhook deliveries ({@link WebhookDeliveriesStore}), the checks
 * (`inspection/VersionChecksStore`) and the versions' states
 * (`database/VersionsStore`), within one transaction per transition.
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

  /** The owner of `model_active_versions` and its history. */
  readonly activeVersions: ActiveVersionsStore;
  /** The owner of submissions, reviews, comments and waivers. */
  readonly reviews: ReviewStore;
  private readonly deliveries: WebhookDeliveriesStore;
  private readonly checks: VersionChecksStore;
  private readonly versions: VersionsStore;

  private constructor(private readonly db: Knex) {
    this.activeVersions = new ActiveVersionsStore(db);
    this.reviews = new ReviewStore(db);
    this.deliveries = new WebhookDeliveriesStore(db);
    this.checks = new VersionChecksStore(db);
    this.versions = new VersionsStore(db);
  }

  applyTransition(options: ApplyTransitionOptions): Promise<TransitionResult> {
    return applyTransition(
      {
        db: this.db,
        reviews: this.reviews,
        activeVersions: this.activeVersions,
        versions: this.versions,
        listChecks: (versionId, tx) => this.listChecks({ versionId }, tx),
      },
      options,
    );
  }

  listSubmissions(options: {
    versionId: string;
  }): Promise<VersionSubmission[]> {
    return this.reviews.listSubmissions(options);
  }

  listDecisions(options: { versionId: string }): Promise<VersionDecision[]> {
    return this.reviews.listDecisions(options);
  }

  addComment(options: {
    versionId: string;
    parentId?: string;
    author: string;
    body: string;
  }): Promise<VersionComment> {
    return this.reviews.addComment(options);
  }

  listComments(options: { versionId: string }): Promise<VersionComment[]> {
    return this.reviews.listComments(options);
  }

  async recordCheck(options: {
    versionId: string;
    name: string;
    status: CheckStatus;
    required?: boolean;
    summary?: string;
    detailsUrl?: string;
  }): Promise<VersionCheck> {
    await this.checks.record(options);
    const checks = await this.listChecks({ versionId: options.versionId });
    return checks.find(c => c.name === options.name)!;
  }

  listChecks(
    options: { versionId: string },
    tx: Knex = this.db,
  ): Promise<VersionCheck[]> {
    return this.checks.listRecorded(options.versionId, tx);
  }

  addWaiver(options: {
    versionId: string;
    checkName: string;
    reason: string;
    waivedBy: string;
  }): Promise<CheckWaiver> {
    return this.reviews.addWaiver(options);
  }

  listWaivers(options: { versionId: string }): Promise<CheckWaiver[]> {
    return this.reviews.listWaivers(options);
  }

  getActiveVersion(options: {
    modelId: string;
  }): Promise<ActiveVersion | undefined> {
    return this.activeVersions.get(options.modelId);
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
        const approved = await this.versions.lockVersionInState(tx, {
          versionId: options.versionId,
          modelId: options.modelId,
          state: 'approved',
        });
        if (!approved) {
          throw new ConflictError(
            'Only an approved version can be the active version',
          );
        }
        await this.activeVersions.set({ ...options, at: now }, tx);
      });
    } catch (error) {
      if (isDatabaseConflictError(error)) {
        throw conflict();
      }
      throw error;
    }
    return (await this.getActiveVersion({ modelId: options.modelId }))!;
  }

  listActiveVersionChanges(options: {
    modelId: string;
  }): Promise<ActiveVersionChange[]> {
    return this.activeVersions.listChanges(options.modelId);
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
    const { submissions, approvals } = await this.reviews.roundsOf(ids);
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

  createDelivery(options: {
    id: string;
    event: string;
    url: string;
    modelRef?: string;
    versionLabel?: string;
    payload: unknown;
  }): Promise<void> {
    return this.deliveries.create(options);
  }

  updateDelivery(options: {
    id: string;
    status: WebhookDelivery['status'];
    attempts: number;
    responseStatus?: number;
    error?: string;
  }): Promise<void> {
    return this.deliveries.update(options);
  }

  claimStaleDeliveries(options: { staleBefore: Date; limit: number }) {
    return this.deliveries.claimStale(options);
  }

  listDeliveries(options: {
    offset: number;
    limit: number;
  }): Promise<{ items: WebhookDelivery[]; totalCount: number }> {
    return this.deliveries.list(options);
  }
}
