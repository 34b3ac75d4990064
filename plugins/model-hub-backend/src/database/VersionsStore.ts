import { randomUUID } from 'node:crypto';
import { NotFoundError } from '@backstage/errors';
import { Knex } from 'knex';
import { CreateVersionOptions, ExpectedFile } from './ModelHubStore';
import { HubVersion, VersionState } from './types';
import { contentDigest, EMPTY_CONTENT_DIGEST } from './contentDigest';
import { mapVersion, VersionRow } from './rows';

/** @internal */
export type ExpectedFileRow = {
  path: string;
  size: number | string;
  sha256: string | null;
  git_oid: string | null;
};

/**
 * The content digest of an expected file list; git blob ids stand in for
 * missing sha256s. @internal
 */
export function expectedDigest(rows: ExpectedFileRow[]): string {
  return contentDigest(
    rows.map(r => ({
      path: r.path,
      sha256: r.sha256 ?? `git-sha1:${r.git_oid ?? ''}`,
      size: Number(r.size),
    })),
  );
}

/** The columns of a version that {@link VersionsStore.lockVersion} reads. @internal */
export type LockedVersion = Pick<
  VersionRow,
  'id' | 'label' | 'state' | 'revision'
>;

/**
 * The owner of `model_versions`, `version_expected_files` and
 * `version_contributors` (issue 21). Writes take the caller's transaction
 * `trx` (atomic with its other writes) or, when `undefined`, run on their
 * own.
 *
 * @internal
 */
export class VersionsStore {
  constructor(private readonly db: Knex) {}

  private q(trx: Knex.Transaction | undefined) {
    return trx ?? this.db;
  }

  /**
   * Inserts a draft version and its expected file list (HF); the caller
   * checks that the label is free in the same transaction.
   */
  async insertVersion(
    trx: Knex.Transaction,
    options: CreateVersionOptions,
    now: Date,
  ): Promise<VersionRow> {
    const row: VersionRow = {
      id: randomUUID(),
      model_id: options.modelId,
      label: options.label,
      state: 'draft',
      source_type: options.sourceType,
      source:
        options.source === undefined ? null : JSON.stringify(options.source),
      resolved_commit: options.resolvedCommit ?? null,
      manifest_digest: options.manifestDigest ?? null,
      notes: options.notes ?? null,
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
      revision: 0,
      content_digest: options.expectedFiles?.length
        ? expectedDigest(
            options.expectedFiles.map(f => ({
              path: f.path,
              size: f.size,
              sha256: f.sha256 ?? null,
              git_oid: f.gitOid ?? null,
            })),
          )
        : EMPTY_CONTENT_DIGEST,
      approved_digest: null,
    };
    await trx('model_versions').insert(row);
    for (let i = 0; i < (options.expectedFiles ?? []).length; i += 200) {
      await trx('version_expected_files').insert(
        options.expectedFiles!.slice(i, i + 200).map(f => ({
          version_id: row.id,
          path: f.path,
          size: f.size,
          sha256: f.sha256 ?? null,
          git_oid: f.gitOid ?? null,
        })),
      );
    }
    return row;
  }

  async getVersion(options: {
    modelId: string;
    label: string;
  }): Promise<HubVersion | undefined> {
    const [version] = await this.versionsQuery()
      .where({ 'v.model_id': options.modelId, 'v.label': options.label })
      .limit(1);
    return version ? mapVersion(version, version) : undefined;
  }

  async listVersions(options: { modelId: string }): Promise<HubVersion[]> {
    const rows = await this.versionsQuery()
      .where({ 'v.model_id': options.modelId })
      .orderBy([
        { column: 'v.created_at', order: 'desc' },
        { column: 'v.id', order: 'desc' },
      ]);
    return rows.map((r: any) => mapVersion(r, r));
  }

  async listExpectedFiles(options: {
    versionId: string;
  }): Promise<ExpectedFile[]> {
    const rows = await this.db('version_expected_files')
      .where({ version_id: options.versionId })
      .orderBy('path', 'asc');
    return rows.map(r => ({
      path: r.path,
      size: Number(r.size),
      ...(r.sha256 && { sha256: r.sha256 }),
      ...(r.git_oid && { gitOid: r.git_oid }),
    }));
  }

  /** The expected file list of a version, read in `trx`. */
  async expectedFileRows(
    trx: Knex.Transaction,
    versionId: string,
  ): Promise<ExpectedFileRow[]> {
    return trx('version_expected_files')
      .where({ version_id: versionId })
      .select('path', 'size', 'sha256', 'git_oid');
  }

  async listContributors(options: { versionId: string }): Promise<string[]> {
    const rows = await this.db('version_contributors')
      .where({ version_id: options.versionId })
      .orderBy('principal', 'asc')
      .select('principal');
    return rows.map(r => r.principal as string);
  }

  /**
   * Locks the row of a version for the rest of the transaction (`FOR
   * UPDATE` on PostgreSQL; SQLite runs one writer at a time) and returns
   * it; a transition of the version waits for the transaction, and one
   * that already committed is seen here. 404 when it does not exist.
   */
  async lockVersion(
    trx: Knex.Transaction,
    versionId: string,
  ): Promise<LockedVersion> {
    const query = trx<VersionRow>('model_versions')
      .where({ id: versionId })
      .first('id', 'label', 'state', 'revision');
    if (trx.client.config.client === 'pg') {
      query.forUpdate();
    }
    const version = await query;
    if (!version) {
      throw new NotFoundError(`Version ${versionId} not found`);
    }
    return version;
  }

  /**
   * Locks a version with a no-op write (on every database) if it is in
   * `state` (and of `modelId` when given); false when it is not.
   */
  async lockVersionInState(
    trx: Knex.Transaction,
    options: { versionId: string; modelId?: string; state: VersionState },
  ): Promise<boolean> {
    const updated = await trx('model_versions')
      .where({
        id: options.versionId,
        ...(options.modelId && { model_id: options.modelId }),
        state: options.state,
      })
      .update({ state: options.state });
    return updated > 0;
  }

  /** Records a principal that contributed a file to a version (once). */
  async addContributor(
    trx: Knex.Transaction | undefined,
    versionId: string,
    principal: string,
    now: Date = new Date(),
  ): Promise<void> {
    await this.q(trx)('version_contributors')
      .insert({ version_id: versionId, principal, created_at: now })
      .onConflict(['version_id', 'principal'])
      .ignore();
  }

  /**
   * Advances the revision of a version (its files changed) and sets
   * `updated_at`, and its content digest when given.
   */
  async advanceRevision(
    trx: Knex.Transaction | undefined,
    versionId: string,
    options: { contentDigest?: string; now?: Date } = {},
  ): Promise<void> {
    const q = this.q(trx);
    await q('model_versions')
      .where({ id: versionId })
      .update({
        updated_at: options.now ?? new Date(),
        revision: q.raw('revision + 1'),
        ...(options.contentDigest !== undefined && {
          content_digest: options.contentDigest,
        }),
      });
  }

  /**
   * Moves a version to `state`, advancing its revision; only while it is
   * in `from` (one state or several) and at `revision` when given. Returns
   * whether it moved (false: it changed concurrently). `approvedDigest`:
   * `undefined` leaves it, a string or `null` sets it.
   */
  async setState(
    trx: Knex.Transaction | undefined,
    options: {
      versionId: string;
      state: VersionState;
      from?: VersionState | readonly VersionState[];
      revision?: number;
      approvedDigest?: string | null;
      now?: Date;
    },
  ): Promise<boolean> {
    const q = this.q(trx);
    const query = q('model_versions').where({ id: options.versionId });
    if (options.revision !== undefined) {
      query.where({ revision: options.revision });
    }
    if (typeof options.from === 'string') {
      query.where({ state: options.from });
    } else if (options.from) {
      query.whereIn('state', options.from as VersionState[]);
    }
    const updated = await query.update({
      state: options.state,
      revision:
        options.revision !== undefined
          ? options.revision + 1
          : q.raw('revision + 1'),
      updated_at: options.now ?? new Date(),
      ...(options.approvedDigest !== undefined && {
        approved_digest: options.approvedDigest,
      }),
    });
    return updated > 0;
  }

  /**
   * Deletes a version if it is (still) in `state`; whether it did. Its
   * files are released by the files store first.
   */
  async deleteVersion(
    trx: Knex.Transaction | undefined,
    options: { versionId: string; state?: string },
  ): Promise<boolean> {
    const deleted = await this.q(trx)('model_versions')
      .where({
        id: options.versionId,
        ...(options.state && { state: options.state }),
      })
      .delete();
    return deleted > 0;
  }

  /** Deletes every version of a model; how many. */
  async deleteVersionsOfModel(
    trx: Knex.Transaction | undefined,
    modelId: string,
  ): Promise<number> {
    return this.q(trx)('model_versions').where({ model_id: modelId }).delete();
  }

  /**
   * Records the model source (issue 22) on the Hub versions without one:
   * of the models whose repo is on `source` (or of `modelId` only).
   */
  async stampHubSource(source: string, modelId?: string): Promise<void> {
    const q = this.db('model_versions')
      .whereNull('source_name')
      .where('source_type', 'huggingface')
      .whereIn(
        'model_id',
        this.db('hf_repos').where('source_name', source).select('model_id'),
      );
    if (modelId) {
      q.where('model_id', modelId);
    }
    await q.update({ source_name: source });
  }

  /** Records a model source on the versions of its models without one. */
  async stampModelSource(source: string): Promise<void> {
    await this.db('model_versions')
      .whereNull('source_name')
      .whereIn(
        'model_id',
        this.db('models').where('source_name', source).select('id'),
      )
      .update({ source_name: source });
  }

  private versionsQuery() {
    const counts = this.db('version_files')
      .select('version_id')
      .count({ file_count: '*' })
      .sum({ total_size: 'size' })
      .groupBy('version_id')
      .as('f');
    return this.db('model_versions as v')
      .leftJoin(counts, 'f.version_id', 'v.id')
      .select('v.*', 'f.file_count', 'f.total_size');
  }
}
