import { randomUUID } from 'node:crypto';
import { isDatabaseConflictError } from '@backstage/backend-plugin-api';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import { Knex } from 'knex';
import {
  CheckWaiver,
  VersionComment,
  VersionDecision,
  VersionSubmission,
} from './ApprovalsStore';
import { opt, toIso } from './rows';

/**
 * The owner of the review records of versions: `version_submissions`,
 * `version_reviews`, `version_comments` and `check_waivers`. The writes of a
 * transition take its transaction.
 *
 * @internal
 */
export class ReviewStore {
  constructor(private readonly db: Knex) {}

  /** The rows of a version in a table, oldest first (ties by id). */
  private inCreationOrder(table: string, versionId: string) {
    return this.db(table)
      .where({ version_id: versionId })
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'id', order: 'asc' },
      ]);
  }

  /** The last submission of a version (its review round), if any. */
  async lastSubmission(
    versionId: string,
    tx: Knex = this.db,
  ): Promise<
    | { round: number; submittedBy: string; contentDigest: string | null }
    | undefined
  > {
    const last = await tx('version_submissions')
      .where({ version_id: versionId })
      .orderBy('round', 'desc')
      .first('round', 'submitted_by', 'content_digest');
    return last
      ? {
          round: Number(last.round),
          submittedBy: last.submitted_by,
          contentDigest: last.content_digest ?? null,
        }
      : undefined;
  }

  /** Records a submission (a new review round). */
  async addSubmission(
    options: {
      versionId: string;
      round: number;
      submittedBy: string;
      comment?: string;
      contentDigest: string | null;
      at: Date;
    },
    tx: Knex = this.db,
  ): Promise<void> {
    await tx('version_submissions').insert({
      id: randomUUID(),
      version_id: options.versionId,
      round: options.round,
      submitted_by: options.submittedBy,
      comment: options.comment ?? null,
      submitted_at: options.at,
      content_digest: options.contentDigest,
    });
  }

  /** Whether the principal ever submitted the version. */
  async hasSubmitted(
    versionId: string,
    principal: string,
    tx: Knex = this.db,
  ): Promise<boolean> {
    const submitted = await tx('version_submissions')
      .where({ version_id: versionId, submitted_by: principal })
      .first('round');
    return Boolean(submitted);
  }

  /** Records a reviewer's decision in a round. */
  async addDecision(
    options: {
      versionId: string;
      round: number;
      reviewer: string;
      decision: VersionDecision['decision'];
      comment?: string;
      subjectDigest: string | null;
      contentDigest: string | null;
      at: Date;
    },
    tx: Knex = this.db,
  ): Promise<void> {
    await tx('version_reviews').insert({
      id: randomUUID(),
      version_id: options.versionId,
      reviewer: options.reviewer,
      decision: options.decision,
      comment: options.comment ?? null,
      subject_digest: options.subjectDigest,
      content_digest: options.contentDigest,
      created_at: options.at,
      round: options.round,
    });
  }

  /** The reviewers who approved the version in a round, once each. */
  async approversOfRound(
    versionId: string,
    round: number,
    tx: Knex = this.db,
  ): Promise<string[]> {
    const previous = await tx('version_reviews')
      .where({ version_id: versionId, round, decision: 'approve' })
      .select('reviewer');
    return [...new Set(previous.map(r => r.reviewer as string))];
  }

  /** The submissions and approvals of versions, for the review queue. */
  async roundsOf(versionIds: string[]): Promise<{
    submissions: Array<{
      version_id: string;
      round: number | string;
      submitted_by: string;
      submitted_at: Date | string | number;
    }>;
    approvals: Array<{
      version_id: string;
      round: number | string;
      reviewer: string;
    }>;
  }> {
    if (!versionIds.length) {
      return { submissions: [], approvals: [] };
    }
    const [submissions, approvals] = await Promise.all([
      this.db('version_submissions').whereIn('version_id', versionIds),
      this.db('version_reviews')
        .whereIn('version_id', versionIds)
        .where('decision', 'approve')
        .select('version_id', 'round', 'reviewer'),
    ]);
    return { submissions, approvals };
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
    const rows = await this.inCreationOrder(
      'version_reviews',
      options.versionId,
    );
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
    const rows = await this.inCreationOrder(
      'version_comments',
      options.versionId,
    );
    return rows.map(r => ({
      id: r.id,
      parentId: opt(r.parent_id),
      author: r.author,
      body: r.body,
      createdAt: toIso(r.created_at),
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
}
