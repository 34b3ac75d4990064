import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { toOptionalIso } from '../database/rows';
import {
  ModelCondition,
  whereReadableModel,
} from '../database/modelReadFilter';
import type {
  ModelFormat,
  ModelType,
} from '@model-hub/backstage-plugin-model-hub-common';
import { HfFileEntry } from './HuggingFaceClient';
import { ModelsStore } from '../database/ModelsStore';
import { VersionsStore } from '../database/VersionsStore';
import { FilesStore } from '../database/FilesStore';
import { JobStore } from '../jobs/JobStore';
import { CatalogSyncStore } from '../catalogSync/CatalogSyncStore';

function parseJson(value: string | null | undefined): any {
  try {
    return value ? JSON.parse(value) : undefined;
  } catch {
    return undefined;
  }
}

/** A registered Hugging Face repository. @public */
export type HfRepo = {
  id: string;
  modelId: string;
  modelRef: string;
  repoId: string;
  /** The model source it is registered from (issue 22). */
  source: string;
  revision: string;
  syncState: 'pending' | 'synced' | 'failed';
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  /** Upstream has a newer commit than the last synced one. */
  drift: boolean;
  gated?: string;
  lastError?: string;
  /** When `lastError` was recorded. */
  lastErrorAt?: string;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
};

/** A file of the last synced commit. @public */
export type HfRepoFile = {
  path: string;
  size: number;
  oid: string;
  lfsSha256?: string;
  lfsPointerSize?: number;
};

/** Model fields a sync writes. @internal */
export type SyncedModelFields = {
  type?: ModelType;
  task?: string;
  format?: ModelFormat;
  license?: string;
  description?: string;
  tags: string[];
};

/**
 * The persistence of the Hugging Face sync: registered repos, the file
 * listing of their last synced commit, model metadata from the Hub, and
 * tombstones of deleted models.
 *
 * @internal
 */
export class HuggingFaceStore {
  private readonly models: ModelsStore;
  private readonly versions: VersionsStore;
  private readonly files: FilesStore;
  private readonly jobs: JobStore;
  private readonly catalog: CatalogSyncStore;

  /**
   * `source`: the model source this store acts for. A store with a source
   * finds, lists and registers only that source's repos (the same repo id
   * on two sources is two upstreams); one without sees every source and
   * registers into `huggingface`.
   */
  constructor(
    private readonly db: Knex,
    private readonly scope: { source?: string } = {},
  ) {
    this.models = new ModelsStore(db);
    this.versions = new VersionsStore(db);
    this.files = new FilesStore(db, this.versions);
    this.jobs = new JobStore(db);
    this.catalog = new CatalogSyncStore(db);
  }

  /** The source this store acts for, if any. */
  get source(): string | undefined {
    return this.scope.source;
  }

  /** A store of the same database acting for one source. */
  forSource(source: string): HuggingFaceStore {
    return new HuggingFaceStore(this.db, { source });
  }

  private repos() {
    return this.db('hf_repos as r')
      .join('models as m', 'm.id', 'r.model_id')
      .select('r.*', 'm.entity_ref as model_ref');
  }

  private map(row: any): HfRepo {
    return {
      id: row.id,
      modelId: row.model_id,
      modelRef: row.model_ref,
      repoId: row.repo_id,
      source: row.source_name ?? 'huggingface',
      revision: row.revision,
      syncState: row.sync_state,
      lastSyncedCommit: row.last_synced_commit ?? undefined,
      lastSyncedAt: toOptionalIso(row.last_synced_at),
      upstreamCommit: row.upstream_commit ?? undefined,
      upstreamCheckedAt: toOptionalIso(row.upstream_checked_at),
      drift: Boolean(row.drift),
      gated: row.gated ?? undefined,
      lastError: row.last_error ?? undefined,
      lastErrorAt: toOptionalIso(row.last_error_at),
      cardData: parseJson(row.card_data),
      config: parseJson(row.config),
      createdBy: row.created_by,
      createdAt: toOptionalIso(row.created_at)!,
      updatedAt: toOptionalIso(row.updated_at)!,
    };
  }

  async insertRepo(options: {
    modelId: string;
    repoId: string;
    revision: string;
    gated?: string;
    createdBy: string;
  }): Promise<void> {
    const now = new Date();
    const source = this.scope.source ?? 'huggingface';
    await this.db.transaction(async tx => {
      await tx('hf_repos').insert({
        id: randomUUID(),
        model_id: options.modelId,
        repo_id: options.repoId,
        source_name: source,
        revision: options.revision,
        sync_state: 'pending',
        gated: options.gated ?? null,
        drift: false,
        created_by: options.createdBy,
        created_at: now,
        updated_at: now,
      });
      // the model records its source (the versions follow, stampVersions)
      await this.models.setSourceName(tx, options.modelId, source);
    });
  }

  async getRepo(filter: {
    repoId?: string;
    modelId?: string;
    /** Another source than the store's (or any, without a scope). */
    source?: string;
  }): Promise<HfRepo | undefined> {
    const q = this.repos();
    const source = filter.source ?? this.scope.source;
    if (source && !filter.modelId) {
      q.where('r.source_name', source);
    }
    if (filter.repoId) {
      q.whereRaw('lower(r.repo_id) = ?', [filter.repoId.toLowerCase()]);
    }
    if (filter.modelId) {
      q.where('r.model_id', filter.modelId);
    }
    const row = await q.first();
    return row ? this.map(row) : undefined;
  }

  /** Every registration of a repo id, on any source. */
  async findRepos(repoId: string): Promise<HfRepo[]> {
    const rows = await this.repos()
      .whereRaw('lower(r.repo_id) = ?', [repoId.toLowerCase()])
      .orderBy('r.source_name');
    return rows.map((r: any) => this.map(r));
  }

  async listRepos(options: {
    offset: number;
    limit: number;
    /** Only repos of models the caller may read. */
    readable?: ModelCondition;
    /** Only the repos of one source. */
    source?: string;
    /** Only repos in these sync states (the jobs page lists failed ones). */
    syncState?: HfRepo['syncState'][];
  }): Promise<{ items: HfRepo[]; totalCount: number }> {
    const counted = this.db('hf_repos as r');
    const listed = this.repos();
    const source = options.source ?? this.scope.source;
    for (const q of [counted, listed]) {
      if (source) {
        q.where('r.source_name', source);
      }
      if (options.syncState?.length) {
        q.whereIn('r.sync_state', options.syncState);
      }
      whereReadableModel(q, this.db, options.readable, {
        column: 'r.model_id',
        key: 'id',
      });
    }
    const [count, rows] = await Promise.all([
      counted.count({ count: '*' }).first(),
      listed.orderBy('r.repo_id').offset(options.offset).limit(options.limit),
    ]);
    return {
      items: rows.map((r: any) => this.map(r)),
      totalCount: Number(count?.count ?? 0),
    };
  }

  /** Ids of every registered repo, in batches, for the scheduled sync. */
  async listAllRepoIds(): Promise<string[]> {
    const q = this.db('hf_repos').select('repo_id').orderBy('repo_id');
    if (this.scope.source) {
      q.where('source_name', this.scope.source);
    }
    const rows = await q;
    return rows.map(r => r.repo_id);
  }

  async listFiles(hfRepoId: string): Promise<HfRepoFile[]> {
    const rows = await this.db('hf_repo_files')
      .where({ hf_repo_id: hfRepoId })
      .orderBy('path');
    return rows.map(r => ({
      path: r.path,
      size: Number(r.size),
      oid: r.oid,
      lfsSha256: r.lfs_sha256 ?? undefined,
      lfsPointerSize:
        r.lfs_pointer_size === null ? undefined : Number(r.lfs_pointer_size),
    }));
  }

  /** Records a check of upstream that found a commit. */
  async recordUpstream(options: {
    id: string;
    commit: string;
    gated?: string;
  }): Promise<HfRepo> {
    const now = new Date();
    const current = await this.db('hf_repos')
      .where({ id: options.id })
      .first('last_synced_commit', 'sync_state');
    await this.db('hf_repos')
      .where({ id: options.id })
      .update({
        upstream_commit: options.commit,
        upstream_checked_at: now,
        drift: Boolean(
          current?.last_synced_commit &&
            current.last_synced_commit !== options.commit,
        ),
        ...(options.gated !== undefined && { gated: options.gated }),
        // a check that found the synced commit clears an earlier error (with
        // drift, the sync of the new commit clears it once it succeeds)
        ...(current?.last_synced_commit === options.commit && {
          last_error: null,
          last_error_at: null,
          ...(current.sync_state === 'failed' && { sync_state: 'synced' }),
        }),
        updated_at: now,
      });
    return (await this.repos()
      .where('r.id', options.id)
      .first()
      .then(r => this.map(r)))!;
  }

  async recordFailure(id: string, error: string): Promise<void> {
    await this.db('hf_repos')
      .where({ id })
      .update({
        sync_state: 'failed',
        last_error: error.slice(0, 4000),
        last_error_at: new Date(),
        updated_at: new Date(),
      });
  }

  /**
   * Stores a completed sync in one transaction: the file listing of the
   * commit, the repo's sync state and the model's metadata.
   */
  async recordSync(options: {
    id: string;
    modelId: string;
    commit: string;
    files: HfFileEntry[];
    gated?: string;
    cardData?: Record<string, unknown>;
    config?: Record<string, unknown>;
    model: SyncedModelFields;
  }): Promise<void> {
    const now = new Date();
    await this.db.transaction(async tx => {
      await tx('hf_repo_files').where({ hf_repo_id: options.id }).delete();
      const rows = options.files.map(f => ({
        hf_repo_id: options.id,
        commit: options.commit,
        path: f.path,
        size: f.size,
        oid: f.oid,
        lfs_sha256: f.lfs?.sha256 ?? null,
        lfs_pointer_size: f.lfs?.pointerSize ?? null,
      }));
      for (let i = 0; i < rows.length; i += 200) {
        await tx('hf_repo_files').insert(rows.slice(i, i + 200));
      }
      await tx('hf_repos')
        .where({ id: options.id })
        .update({
          sync_state: 'synced',
          last_synced_commit: options.commit,
          last_synced_at: now,
          upstream_commit: options.commit,
          upstream_checked_at: now,
          drift: false,
          last_error: null,
          last_error_at: null,
          gated: options.gated ?? null,
          card_data: options.cardData ? JSON.stringify(options.cardData) : null,
          config: options.config ? JSON.stringify(options.config) : null,
          updated_at: now,
        });
      const model = await tx('models').where({ id: options.modelId }).first();
      const m = options.model;
      // the Hub's metadata fills in; a description set in the hub stays
      await this.models.updateModel(tx, {
        modelId: options.modelId,
        patch: {
          ...(m.type && { type: m.type }),
          task: m.task ?? undefined,
          format: m.format ?? undefined,
          license: m.license ?? undefined,
          description: model.description ?? m.description ?? null,
          tags: m.tags,
        },
        now,
      });
    });
  }

  /**
   * Deletes a registered repo, and its model when `deleteModel` is set: the
   * blob references of its files are released first (the garbage collection
   * removes unreferenced blobs after its grace period) and a tombstone tells
   * the catalog entity provider to remove the entity.
   */
  async deleteRepo(options: {
    id: string;
    modelId: string;
    modelRef: string;
    deleteModel: boolean;
  }): Promise<void> {
    const now = new Date();
    await this.db.transaction(async tx => {
      await tx('hf_repos').where({ id: options.id }).delete();
      if (!options.deleteModel) {
        await this.models.touchModel(tx, options.modelId, now);
        return;
      }
      await this.files.releaseFiles(tx, { modelId: options.modelId }, now);
      await this.jobs.deleteJobsOfModel(tx, options.modelId);
      await this.versions.deleteVersionsOfModel(tx, options.modelId);
      await this.models.deleteModel(tx, options.modelId);
      await this.catalog.addTombstone(tx, options.modelRef, now);
    });
  }

  /**
   * Removes a model that a registration created but could not register (a
   * concurrent registration of the same repo won): it has no versions yet.
   */
  async deleteUnregisteredModel(modelId: string): Promise<void> {
    await this.db.transaction(async tx => {
      const registered = await tx('hf_repos')
        .where({ model_id: modelId })
        .first('id');
      const versions = await tx('model_versions')
        .where({ model_id: modelId })
        .first('id');
      if (registered || versions) {
        return;
      }
      await this.jobs.deleteJobsOfModel(tx, modelId);
      await this.models.deleteModel(tx, modelId);
    });
  }

  /** Forgets the tombstone of a model that is created again. */
  async clearTombstone(entityRef: string): Promise<void> {
    await this.catalog.clearTombstone(entityRef);
  }

  /** Approved Hub versions without files and without an active download. */
  async listApprovedVersionsToFetch(): Promise<
    Array<{
      versionId: string;
      modelId: string;
      resolvedCommit: string;
      repoId: string;
    }>
  > {
    const rows = await this.db('model_versions as v')
      .join('hf_repos as r', 'r.model_id', 'v.model_id')
      .where('v.state', 'approved')
      .where('v.source_type', 'huggingface')
      .modify(q => {
        if (this.scope.source) {
          q.where('r.source_name', this.scope.source);
        }
      })
      .whereNotNull('v.resolved_commit')
      .whereNotExists(q =>
        q
          .select(this.db.raw('1'))
          .from('version_files as f')
          .whereRaw('f.version_id = v.id'),
      )
      .whereNotExists(q =>
        q
          .select(this.db.raw('1'))
          .from('jobs as j')
          .whereRaw('j.version_id = v.id')
          .where('j.type', 'huggingface-download')
          .whereIn('j.state', ['queued', 'running', 'succeeded', 'failed']),
      )
      .select(
        'v.id as version_id',
        'v.model_id',
        'v.resolved_commit',
        'r.repo_id',
      );
    return rows.map((r: any) => ({
      versionId: r.version_id,
      modelId: r.model_id,
      resolvedCommit: r.resolved_commit,
      repoId: r.repo_id,
    }));
  }
}
