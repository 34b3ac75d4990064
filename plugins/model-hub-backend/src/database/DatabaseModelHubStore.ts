import { randomUUID } from 'node:crypto';
import {
  DatabaseService,
  isDatabaseConflictError,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import { EDITABLE_VERSION_STATES } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import {
  fetchSummaryExtras,
  summarizeModels,
  SummaryExtrasRows,
} from './modelSummaryExtras';
import {
  ModelCondition,
  whereModel,
  whereReadableModel,
} from './modelReadFilter';
import {
  AddFileOptions,
  AuditEventOptions,
  HubAuditEvent,
  HubStatsPoint,
  CreateJobOptions,
  CreateModelOptions,
  CreateVersionOptions,
  ExpectedFile,
  ListJobsOptions,
  ListModelsOptions,
  ModelHubStore,
} from './ModelHubStore';
import {
  HubBlob,
  HubFile,
  HubJob,
  HubJobLog,
  HubModel,
  HubModelSummary,
  HubStats,
  HubVersion,
  VERSION_STATES,
  VersionState,
} from './types';
import { contentDigest, EMPTY_CONTENT_DIGEST } from './contentDigest';
import {
  assertModelIdentityFree,
  findHfRepoHolder,
  HfRepoHolder,
} from './hfRepoIdentity';

const migrationsDir = resolvePackagePath(
  '@model-hub/backstage-plugin-model-hub-backend',
  'migrations',
);

type DbDate = Date | string | number;

type ModelRow = {
  id: string;
  entity_ref: string;
  namespace: string;
  name: string;
  title: string | null;
  description: string | null;
  type: string;
  task: string | null;
  format: string | null;
  license: string | null;
  lifecycle: string;
  owner: string;
  source_type: string;
  source: string | null;
  tags: string;
  search_text: string;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  system?: string | null;
  orphaned_at?: DbDate | null;
};

type VersionRow = {
  id: string;
  model_id: string;
  label: string;
  state: string;
  source_type: string;
  source: string | null;
  resolved_commit: string | null;
  manifest_digest: string | null;
  notes: string | null;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  revision: number;
  content_digest: string | null;
  approved_digest: string | null;
};

type FileRow = {
  id: string;
  version_id: string;
  path: string;
  size: number | string;
  sha256: string;
  kind: string;
  created_by: string;
  created_at: DbDate;
};

type BlobRow = {
  sha256: string;
  size: number | string;
  ref_count: number;
  location: string;
  created_at: DbDate;
  last_referenced_at: DbDate;
};

type JobRow = {
  id: string;
  type: string;
  state: string;
  model_id: string | null;
  model_ref?: string | null;
  version_id: string | null;
  params: string;
  progress: string;
  attempts: number;
  max_attempts: number;
  leased_by: string | null;
  lease_expires_at: DbDate | null;
  error: string | null;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  started_at: DbDate | null;
  finished_at: DbDate | null;
};

function toIso(value: DbDate): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number') {
    return new Date(value).toISOString();
  }
  // SQLite may hand back numbers as strings, Postgres text as ISO strings
  return /^\d+$/.test(value)
    ? new Date(Number(value)).toISOString()
    : new Date(value).toISOString();
}

function toOptionalIso(value: DbDate | null | undefined): string | undefined {
  return value === null || value === undefined ? undefined : toIso(value);
}

function parseJson<T>(value: string | null | undefined, fallback: T): T {
  if (value === null || value === undefined || value === '') {
    return fallback;
  }
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

function opt<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

/** Escapes LIKE wildcards; used with `escape '\'`. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, c => `\\${c}`);
}

/**
 * Runs a write, turning a unique-constraint violation (a concurrent insert
 * of the same key) into a `ConflictError` (409).
 */
async function conflictOnDuplicate<T>(
  message: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isDatabaseConflictError(error)) {
      throw new ConflictError(message, error);
    }
    throw error;
  }
}

/** The lower-cased entity ref of a model. */
export function modelEntityRef(namespace: string, name: string): string {
  return `model:${namespace}/${name}`.toLocaleLowerCase('en-US');
}

/**
 * States in which a version with an expected file list (HF) may still get
 * the bytes of listed files: its content digest is that of the list, which
 * review and approval are bound to.
 */
const FILLABLE_STATES: VersionState[] = [
  ...EDITABLE_VERSION_STATES,
  'in_review',
  'approved',
  'deprecated',
];

function notEditable(version: { label: string; state: string }) {
  return new ConflictError(
    `Version ${version.label} is ${version.state}; files can only change in a draft version or one with changes requested`,
  );
}

type ExpectedFileRow = {
  path: string;
  size: number | string;
  sha256: string | null;
  git_oid: string | null;
};

/** The content digest of an expected file list; git blob ids stand in for missing sha256s. */
function expectedDigest(rows: ExpectedFileRow[]): string {
  return contentDigest(
    rows.map(r => ({
      path: r.path,
      sha256: r.sha256 ?? `git-sha1:${r.git_oid ?? ''}`,
      size: Number(r.size),
    })),
  );
}

/** Checks a file against the entry of an expected file list. */
function assertExpected(
  options: AddFileOptions,
  expected: ExpectedFileRow | undefined,
  label: string,
) {
  if (!expected) {
    throw new ConflictError(
      `${options.path} is not in the file list of version ${label}; no other file can be added`,
    );
  }
  const matches =
    Number(expected.size) === options.blob.size &&
    (expected.sha256
      ? expected.sha256 === options.blob.sha256
      : Boolean(expected.git_oid) && expected.git_oid === options.gitOid);
  if (!matches) {
    throw new ConflictError(
      `${options.path} does not match the file list of version ${label} (size ${
        expected.size
      }, ${
        expected.sha256
          ? `sha256 ${expected.sha256}`
          : `git blob ${expected.git_oid}`
      })`,
    );
  }
}

const SORT_COLUMNS = {
  name: 'name',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const;

/**
 * The Knex implementation of {@link ModelHubStore}, on SQLite and PostgreSQL.
 *
 * @internal
 */
export class DatabaseModelHubStore implements ModelHubStore {
  static async create(options: {
    database: DatabaseService;
    skipMigrations?: boolean;
  }): Promise<DatabaseModelHubStore> {
    const knex = await options.database.getClient();
    if (!options.skipMigrations && !options.database.migrations?.skip) {
      await knex.migrate.latest({ directory: migrationsDir });
    }
    return new DatabaseModelHubStore(knex);
  }

  /** The directory of the migrations, for tests and tools. */
  static readonly migrationsDirectory = migrationsDir;

  private constructor(private readonly db: Knex) {}

  async createModel(options: CreateModelOptions): Promise<HubModel> {
    const now = new Date();
    const id = randomUUID();
    const entityRef = modelEntityRef(options.namespace, options.name);
    const tags = [...new Set(options.tags)];
    const row: ModelRow = {
      id,
      entity_ref: entityRef,
      namespace: options.namespace,
      name: options.name,
      title: options.title ?? null,
      description: options.description ?? null,
      type: options.type,
      task: options.task ?? null,
      format: options.format ?? null,
      license: options.license ?? null,
      lifecycle: options.lifecycle,
      owner: options.owner,
      source_type: options.sourceType,
      source:
        options.source === undefined ? null : JSON.stringify(options.source),
      tags: JSON.stringify(tags),
      ...(options.system && { system: options.system }),
      ...(options.sourceName && { source_name: options.sourceName }),
      search_text: [
        options.name,
        options.title ?? '',
        options.description ?? '',
        ...tags,
      ]
        .join(' ')
        .toLocaleLowerCase('en-US'),
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
    };
    await conflictOnDuplicate(`Model ${entityRef} already exists`, () =>
      this.db.transaction(async tx => {
        const existing = await tx('models')
          .where({ entity_ref: entityRef })
          .first('id');
        if (existing) {
          throw new ConflictError(`Model ${entityRef} already exists`);
        }
        await assertModelIdentityFree(tx, options);
        await tx('models').insert(row);
        if (tags.length) {
          await tx('model_tags').insert(
            tags.map(tag => ({ model_id: id, tag })),
          );
        }
      }),
    );
    return this.mapModel(row);
  }

  getHfRepoHolder(
    filter: { repoId: string } | { modelId: string },
  ): Promise<HfRepoHolder | undefined> {
    return findHfRepoHolder(this.db, filter);
  }

  async getModel(options: {
    entityRef: string;
  }): Promise<HubModel | undefined> {
    const row = await this.db<ModelRow>('models')
      .where({ entity_ref: options.entityRef.toLocaleLowerCase('en-US') })
      .first();
    return row ? this.mapModel(row) : undefined;
  }

  async listModels(
    options: ListModelsOptions,
  ): Promise<{ items: HubModelSummary[]; totalCount: number }> {
    const { filter = {}, search } = options;
    const query = this.db<ModelRow>('models');
    if (filter.type?.length) {
      query.whereIn('type', filter.type);
    }
    if (filter.owner?.length) {
      query.whereIn('owner', filter.owner);
    }
    if (filter.source?.length) {
      query.whereIn('source_type', filter.source);
    }
    if (filter.namespace?.length) {
      const namespaces = filter.namespace.map(n => n.toLocaleLowerCase('en-US'));
      query.whereRaw(`lower(namespace) in (${namespaces.map(() => '?').join(', ')})`, namespaces);
    }
    for (const tag of filter.tag ?? []) {
      query.whereIn(
        'id',
        this.db('model_tags').select('model_id').where({ tag }),
      );
    }
    if (filter.state?.length) {
      const states = filter.state;
      query.whereExists(function stateFilter() {
        this.select(this.client.raw('1'))
          .from('model_versions')
          .whereRaw('model_versions.model_id = models.id')
          .whereIn('model_versions.state', states);
      });
    }
    if (search) {
      for (const term of search.toLocaleLowerCase('en-US').split(/\s+/)) {
        if (term) {
          query.whereRaw(`search_text like ? escape '\\'`, [
            `%${escapeLike(term)}%`,
          ]);
        }
      }
    }

    if (options.readable) {
      const readable = options.readable;
      query.where(b => whereModel(b, this.db, readable, 'models'));
    }

    const sortColumn = SORT_COLUMNS[options.sort?.field ?? 'name'];
    const order = options.sort?.order ?? 'asc';
    const [countRow, rows] = await Promise.all([
      query.clone().count({ count: '*' }).first(),
      query
        .clone()
        .select('*')
        .orderBy([
          { column: sortColumn, order },
          { column: 'id', order },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);

    const ids = (rows as ModelRow[]).map(r => r.id);
    // the versions of the page and what the active version and the worst
    // state need, at the same time
    const [versions, extraRows]: [
      Pick<VersionRow, 'id' | 'model_id' | 'label' | 'state' | 'created_at'>[],
      SummaryExtrasRows,
    ] = await Promise.all([
      ids.length
        ? this.db('model_versions')
            .whereIn('model_id', ids)
            .select('id', 'model_id', 'label', 'state', 'created_at')
        : Promise.resolve([]),
      fetchSummaryExtras(this.db, ids),
    ]);
    const extras = summarizeModels(ids, versions, extraRows);
    const byModel = new Map<string, typeof versions>();
    for (const v of versions) {
      const list = byModel.get(v.model_id) ?? [];
      list.push(v);
      byModel.set(v.model_id, list);
    }

    const items = (rows as ModelRow[]).map(row => {
      const list = (byModel.get(row.id) ?? []).sort(
        (a, b) =>
          new Date(toIso(b.created_at)).getTime() -
          new Date(toIso(a.created_at)).getTime(),
      );
      const latest = list[0];
      return {
        ...this.mapModel(row),
        versionCount: list.length,
        latestVersion: latest
          ? {
              label: latest.label,
              state: latest.state as VersionState,
              createdAt: toIso(latest.created_at),
            }
          : undefined,
        ...extras.get(row.id)!,
      };
    });
    return { items, totalCount: Number(countRow?.count ?? 0) };
  }

  async createVersion(options: CreateVersionOptions): Promise<HubVersion> {
    const now = new Date();
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
    const files = options.files ?? [];
    await conflictOnDuplicate(`Version ${options.label} already exists`, () =>
      this.db.transaction(async tx => {
        const existing = await tx('model_versions')
          .where({ model_id: options.modelId, label: options.label })
          .first('id');
        if (existing) {
          throw new ConflictError(`Version ${options.label} already exists`);
        }
        await tx('model_versions').insert(row);
        for (let i = 0; i < (options.expectedFiles ?? []).length; i += 200) {
          await tx('version_expected_files').insert(
            options.expectedFiles!.slice(i, i + 200).map(f => ({
              version_id: row.id,
              path: f.path,
              size: f.size,
              sha256: f.sha256 ?? null,
              git_oid: f.gitOid ?? null,
            })),
          );
        }
        for (const file of files) {
          const { created } = await this.insertFile(
            tx,
            { ...file, versionId: row.id, createdBy: options.createdBy },
            now,
          );
          if (!created) {
            throw new InputError(`File ${file.path} is listed twice`);
          }
        }
        if (files.length) {
          await this.advanceVersion(
            tx,
            row.id,
            Boolean(options.expectedFiles?.length),
          );
          row.revision = 1;
        }
        await tx('models')
          .where({ id: options.modelId })
          .update({ updated_at: now });
      }),
    );
    const version = await this.getVersion({
      modelId: options.modelId,
      label: options.label,
    });
    return version ?? this.mapVersion(row, { file_count: 0, total_size: 0 });
  }

  async getVersion(options: {
    modelId: string;
    label: string;
  }): Promise<HubVersion | undefined> {
    const [version] = await this.versionsQuery()
      .where({ 'v.model_id': options.modelId, 'v.label': options.label })
      .limit(1);
    return version ? this.mapVersion(version, version) : undefined;
  }

  async listVersions(options: { modelId: string }): Promise<HubVersion[]> {
    const rows = await this.versionsQuery()
      .where({ 'v.model_id': options.modelId })
      .orderBy([
        { column: 'v.created_at', order: 'desc' },
        { column: 'v.id', order: 'desc' },
      ]);
    return rows.map((r: any) => this.mapVersion(r, r));
  }

  async addFile(
    options: AddFileOptions,
  ): Promise<{ file: HubFile; created: boolean }> {
    return conflictOnDuplicate(`File ${options.path} already exists`, () =>
      this.db.transaction(async tx => {
        const version = await this.lockVersion(tx, options.versionId);
        const expected = await tx('version_expected_files')
          .where({ version_id: version.id, path: options.path })
          .first();
        const hasList = Boolean(
          expected ??
            (await tx('version_expected_files')
              .where({ version_id: version.id })
              .first('path')),
        );
        if (hasList) {
          assertExpected(options, expected, version.label);
          if (!FILLABLE_STATES.includes(version.state as VersionState)) {
            throw notEditable(version);
          }
        } else if (
          !EDITABLE_VERSION_STATES.includes(version.state as VersionState)
        ) {
          throw notEditable(version);
        }
        const result = await this.insertFile(tx, options, new Date());
        if (result.created) {
          await this.advanceVersion(tx, version.id, hasList);
        }
        return result;
      }),
    );
  }

  async removeFile(options: { versionId: string; path: string }) {
    const now = new Date();
    await this.db.transaction(async tx => {
      const version = await this.lockVersion(tx, options.versionId);
      if (!EDITABLE_VERSION_STATES.includes(version.state as VersionState)) {
        throw notEditable(version);
      }
      const existing = await tx<FileRow>('version_files')
        .where({ version_id: options.versionId, path: options.path })
        .first();
      if (!existing) {
        throw new NotFoundError(`File ${options.path} not found`);
      }
      await tx('version_files').where({ id: existing.id }).delete();
      await tx('blobs')
        .where({ sha256: existing.sha256 })
        .update({
          ref_count: tx.raw('ref_count - 1'),
          last_referenced_at: now,
        });
      const hasList = Boolean(
        await tx('version_expected_files')
          .where({ version_id: options.versionId })
          .first('path'),
      );
      await this.advanceVersion(tx, options.versionId, hasList);
    });
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
   * that already committed is seen here.
   */
  private async lockVersion(
    tx: Knex.Transaction,
    versionId: string,
  ): Promise<Pick<VersionRow, 'id' | 'label' | 'state' | 'revision'>> {
    const query = tx<VersionRow>('model_versions')
      .where({ id: versionId })
      .first('id', 'label', 'state', 'revision');
    if (tx.client.config.client === 'pg') {
      query.forUpdate();
    }
    const version = await query;
    if (!version) {
      throw new NotFoundError(`Version ${versionId} not found`);
    }
    return version;
  }

  /** Inserts a file (and its blob reference and uploader) into a version. */
  private async insertFile(
    tx: Knex.Transaction,
    options: AddFileOptions,
    now: Date,
  ): Promise<{ file: HubFile; created: boolean }> {
    const existing = await tx<FileRow>('version_files')
      .where({ version_id: options.versionId, path: options.path })
      .first();
    if (existing) {
      if (existing.sha256 === options.blob.sha256) {
        return { file: this.mapFile(existing), created: false };
      }
      throw new ConflictError(
        `File ${options.path} already exists with other content`,
      );
    }
    await tx('blobs')
      .insert({
        sha256: options.blob.sha256,
        size: options.blob.size,
        ref_count: 1,
        location: options.blob.location,
        created_at: now,
        last_referenced_at: now,
      })
      .onConflict('sha256')
      .merge({
        ref_count: tx.raw('?? + 1', ['blobs.ref_count']),
        last_referenced_at: now,
      });
    const row: FileRow = {
      id: randomUUID(),
      version_id: options.versionId,
      path: options.path,
      size: options.blob.size,
      sha256: options.blob.sha256,
      kind: options.kind,
      created_by: options.createdBy,
      created_at: now,
    };
    await tx('version_files').insert(row);
    await tx('version_contributors')
      .insert({
        version_id: options.versionId,
        principal: options.createdBy,
        created_at: now,
      })
      .onConflict(['version_id', 'principal'])
      .ignore();
    return { file: this.mapFile(row), created: true };
  }

  /**
   * Advances the revision of a version and recomputes its content digest:
   * over its files, or for a version with an expected file list (HF) over
   * that list, which the files only fill in.
   */
  private async advanceVersion(
    tx: Knex.Transaction,
    versionId: string,
    hasList: boolean,
  ): Promise<void> {
    const digest = hasList
      ? expectedDigest(
          await tx('version_expected_files')
            .where({ version_id: versionId })
            .select('path', 'size', 'sha256', 'git_oid'),
        )
      : contentDigest(
          await tx('version_files')
            .where({ version_id: versionId })
            .select('path', 'sha256', 'size'),
        );
    await tx('model_versions')
      .where({ id: versionId })
      .update({
        updated_at: new Date(),
        revision: tx.raw('revision + 1'),
        content_digest: digest,
      });
  }

  async getFile(options: {
    versionId: string;
    path: string;
  }): Promise<HubFile | undefined> {
    const row = await this.db<FileRow>('version_files')
      .where({ version_id: options.versionId, path: options.path })
      .first();
    return row ? this.mapFile(row) : undefined;
  }

  async listFiles(options: { versionId: string }): Promise<HubFile[]> {
    const rows = await this.db<FileRow>('version_files')
      .where({ version_id: options.versionId })
      .orderBy('path', 'asc');
    return rows.map(r => this.mapFile(r));
  }

  async getBlob(options: { sha256: string }): Promise<HubBlob | undefined> {
    const row = await this.db<BlobRow>('blobs')
      .where({ sha256: options.sha256 })
      .first();
    return row ? this.mapBlob(row) : undefined;
  }

  async listUnreferencedBlobs(options: {
    before: Date;
    limit: number;
  }): Promise<HubBlob[]> {
    const rows = await this.db<BlobRow>('blobs')
      .where('ref_count', '<=', 0)
      .where('last_referenced_at', '<', options.before)
      .orderBy('sha256')
      .limit(options.limit);
    return rows.map(r => this.mapBlob(r));
  }

  async deleteUnreferencedBlob(options: {
    sha256: string;
    before: Date;
    fn: () => Promise<void>;
  }): Promise<boolean> {
    return this.db.transaction(async tx => {
      const deleted = await tx('blobs')
        .where({ sha256: options.sha256 })
        .where('ref_count', '<=', 0)
        .where('last_referenced_at', '<', options.before)
        .delete();
      if (!deleted) {
        return false;
      }
      await options.fn();
      return true;
    });
  }

  async findBlobs(options: { sha256s: string[] }): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < options.sha256s.length; i += 500) {
      const rows = await this.db('blobs')
        .whereIn('sha256', options.sha256s.slice(i, i + 500))
        .select('sha256');
      rows.forEach(r => found.add(r.sha256));
    }
    return found;
  }

  async createJob(options: CreateJobOptions): Promise<HubJob> {
    const now = new Date();
    const row: JobRow = {
      id: randomUUID(),
      type: options.type,
      state: 'queued',
      model_id: options.modelId ?? null,
      version_id: options.versionId ?? null,
      params: JSON.stringify(options.params ?? {}),
      progress: '{}',
      attempts: 0,
      max_attempts: options.maxAttempts ?? 3,
      leased_by: null,
      lease_expires_at: null,
      error: null,
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
    };
    await this.db('jobs').insert(row);
    return (await this.getJob({ id: row.id }))!;
  }

  async getJob(options: { id: string }): Promise<HubJob | undefined> {
    const row = await this.jobsQuery().where('j.id', options.id).first();
    return row ? this.mapJob(row) : undefined;
  }

  async listJobs(
    options: ListJobsOptions,
  ): Promise<{ items: HubJob[]; totalCount: number }> {
    const query = this.db('jobs as j');
    if (options.state?.length) {
      query.whereIn('j.state', options.state);
    }
    if (options.type) {
      query.where('j.type', options.type);
    }
    if (options.modelId) {
      query.where('j.model_id', options.modelId);
    }
    whereReadableModel(query, this.db, options.readable, {
      column: 'j.model_id',
      key: 'id',
      keepUnowned: true,
    });
    const [countRow, rows] = await Promise.all([
      query.clone().count({ count: '*' }).first(),
      query
        .clone()
        .leftJoin('models as m', 'm.id', 'j.model_id')
        .select('j.*', 'm.entity_ref as model_ref')
        .orderBy([
          { column: 'j.created_at', order: 'desc' },
          { column: 'j.id', order: 'desc' },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);
    return {
      items: rows.map((r: JobRow) => this.mapJob(r)),
      totalCount: Number(countRow?.count ?? 0),
    };
  }

  async retryJob(options: { id: string; actor: string }): Promise<HubJob> {
    return this.transitionJob({
      id: options.id,
      from: ['failed', 'cancelled'],
      action: 'retry',
      update: {
        state: 'queued',
        error: null,
        leased_by: null,
        lease_expires_at: null,
        finished_at: null,
      },
      log: `Retried by ${options.actor}`,
    });
  }

  async cancelJob(options: { id: string; actor: string }): Promise<HubJob> {
    return this.transitionJob({
      id: options.id,
      from: ['queued', 'running'],
      action: 'cancel',
      update: {
        state: 'cancelled',
        leased_by: null,
        lease_expires_at: null,
        finished_at: new Date(),
      },
      log: `Cancelled by ${options.actor}`,
    });
  }

  private async transitionJob(options: {
    id: string;
    from: string[];
    action: string;
    update: Partial<JobRow>;
    log: string;
  }): Promise<HubJob> {
    const now = new Date();
    await this.db.transaction(async tx => {
      const updated = await tx('jobs')
        .where({ id: options.id })
        .whereIn('state', options.from)
        .update({ ...options.update, updated_at: now });
      if (!updated) {
        const job = await tx('jobs').where({ id: options.id }).first('state');
        if (!job) {
          throw new NotFoundError(`Job ${options.id} not found`);
        }
        throw new ConflictError(
          `Cannot ${options.action} a job that is ${job.state}`,
        );
      }
      await tx('job_logs').insert({
        job_id: options.id,
        created_at: now,
        level: 'info',
        message: options.log,
      });
    });
    return (await this.getJob({ id: options.id }))!;
  }

  async appendJobLog(options: {
    jobId: string;
    level: HubJobLog['level'];
    message: string;
  }): Promise<void> {
    await this.db('job_logs').insert({
      job_id: options.jobId,
      created_at: new Date(),
      level: options.level,
      message: options.message,
    });
  }

  async listJobLogs(options: {
    jobId: string;
    afterId?: number;
    limit: number;
  }): Promise<HubJobLog[]> {
    const rows = await this.db('job_logs')
      .where({ job_id: options.jobId })
      .where('id', '>', options.afterId ?? 0)
      .orderBy('id', 'asc')
      .limit(options.limit);
    return rows.map(r => ({
      id: Number(r.id),
      createdAt: toIso(r.created_at),
      level: r.level,
      message: r.message,
    }));
  }

  async getStats(
    options: { readable?: ModelCondition } = {},
  ): Promise<HubStats> {
    const readable =
      options.readable && options.readable.op !== 'all'
        ? options.readable
        : undefined;
    const byModel = (
      qb: Knex.QueryBuilder,
      column: string,
      keepUnowned = false,
    ) => {
      whereReadableModel(qb, this.db, readable, {
        column,
        key: 'id',
        keepUnowned,
      });
      return qb;
    };
    // with a read restriction, the storage of the readable models' files
    // (each blob once); nothing about unreferenced blobs
    const readableBlobs = () =>
      this.db
        .from(
          byModel(
            this.db('version_files as f')
              .join('model_versions as v', 'v.id', 'f.version_id')
              .select('f.sha256')
              .max({ size: 'f.size' })
              .groupBy('f.sha256'),
            'v.model_id',
          ).as('rb'),
        )
        .count({ count: '*' })
        .sum({ bytes: 'rb.size' })
        .first();
    const [models, versionRows, blobs, unreferenced, jobRows] =
      await Promise.all([
        byModel(this.db('models as m'), 'm.id').count({ count: '*' }).first(),
        byModel(this.db('model_versions as v'), 'v.model_id')
          .select('v.state')
          .count({ count: '*' })
          .groupBy('v.state') as Promise<{ state: string; count: unknown }[]>,
        readable
          ? readableBlobs()
          : this.db('blobs')
              .count({ count: '*' })
              .sum({ bytes: 'size' })
              .first(),
        readable
          ? Promise.resolve({ count: 0 })
          : this.db('blobs')
              .where('ref_count', '<=', 0)
              .count({ count: '*' })
              .first(),
        byModel(this.db('jobs as j'), 'j.model_id', true)
          .select('j.state')
          .count({ count: '*' })
          .groupBy('j.state') as Promise<{ state: string; count: unknown }[]>,
      ]);
    const byState = Object.fromEntries(
      VERSION_STATES.map(s => [s, 0]),
    ) as Record<VersionState, number>;
    let total = 0;
    for (const row of versionRows) {
      byState[row.state as VersionState] = Number(row.count);
      total += Number(row.count);
    }
    const jobCount = (states: string[]) =>
      jobRows
        .filter(r => states.includes(String(r.state)))
        .reduce((sum, r) => sum + Number(r.count), 0);
    return {
      models: Number(models?.count ?? 0),
      versions: { total, byState },
      storage: {
        blobs: Number(blobs?.count ?? 0),
        bytes: Number(blobs?.bytes ?? 0),
        unreferencedBlobs: Number(unreferenced?.count ?? 0),
      },
      jobs: {
        active: jobCount(['queued', 'running']),
        failed: jobCount(['failed']),
      },
    };
  }

  async addAuditEvent(options: AuditEventOptions): Promise<void> {
    await this.db('audit_events').insert({
      event_id: options.eventId,
      actor: options.actor,
      model_ref: options.modelRef ?? null,
      version_label: options.versionLabel ?? null,
      meta: JSON.stringify(options.meta ?? {}),
      created_at: new Date(),
    });
  }

  async listAuditEvents(options: {
    limit: number;
    readable?: ModelCondition;
  }): Promise<HubAuditEvent[]> {
    const query = this.db('audit_events');
    whereReadableModel(query, this.db, options.readable, {
      column: 'model_ref',
      key: 'entity_ref',
      keepUnowned: true,
    });
    const rows = await query
      .select(
        'id',
        'event_id',
        'actor',
        'model_ref',
        'version_label',
        'created_at',
      )
      .orderBy('id', 'desc')
      .limit(options.limit);
    return rows.map(r => ({
      id: Number(r.id),
      eventId: r.event_id,
      actor: r.actor,
      ...(r.model_ref && { modelRef: r.model_ref }),
      ...(r.version_label && { versionLabel: r.version_label }),
      status: 'succeeded' as const,
      createdAt: toIso(r.created_at),
    }));
  }

  async recordDownload(options: { bytes: number; at?: Date }): Promise<void> {
    const day = (options.at ?? new Date()).toISOString().slice(0, 10);
    await this.db('download_counts')
      .insert({ day, downloads: 0, bytes: 0 })
      .onConflict('day')
      .ignore();
    await this.db('download_counts')
      .where({ day })
      .increment({ downloads: 1, bytes: Math.max(0, options.bytes) });
  }

  async getStatsHistory(options: {
    days: number;
    now?: Date;
  }): Promise<HubStatsPoint[]> {
    const now = options.now ?? new Date();
    const today = Date.UTC(
      now.getUTCFullYear(),
      now.getUTCMonth(),
      now.getUTCDate(),
    );
    const DAY = 24 * 60 * 60 * 1000;
    const starts = Array.from(
      { length: options.days },
      (_, i) => today - (options.days - 1 - i) * DAY,
    );
    const dates = starts.map(t => new Date(t).toISOString().slice(0, 10));
    // one pass over the blobs: the bytes created before the end of each day
    const sums = starts.map(
      (t, i) =>
        [
          `sum(case when ?? < ? then ?? else 0 end) as ??`,
          ['created_at', new Date(t + DAY), 'size', `d${i}`],
        ] as const,
    );
    const [storage, counts] = await Promise.all([
      this.db('blobs')
        .select(sums.map(([sql, bindings]) => this.db.raw(sql, bindings)))
        .first(),
      this.db('download_counts')
        .whereBetween('day', [dates[0], dates[dates.length - 1]])
        .select('day', 'downloads', 'bytes'),
    ]);
    const byDay = new Map(counts.map(c => [c.day as string, c]));
    return dates.map((date, i) => ({
      date,
      storageBytes: Number(storage?.[`d${i}`] ?? 0),
      downloads: Number(byDay.get(date)?.downloads ?? 0),
      downloadBytes: Number(byDay.get(date)?.bytes ?? 0),
    }));
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

  private jobsQuery() {
    return this.db('jobs as j')
      .leftJoin('models as m', 'm.id', 'j.model_id')
      .select('j.*', 'm.entity_ref as model_ref');
  }

  private mapModel(row: ModelRow): HubModel {
    return {
      id: row.id,
      entityRef: row.entity_ref,
      namespace: row.namespace,
      name: row.name,
      title: opt(row.title),
      description: opt(row.description),
      type: row.type as HubModel['type'],
      task: opt(row.task),
      format: opt(row.format) as HubModel['format'],
      license: opt(row.license),
      lifecycle: row.lifecycle,
      owner: row.owner,
      sourceType: row.source_type as HubModel['sourceType'],
      source: parseJson(row.source, undefined),
      tags: parseJson(row.tags, []),
      ...(row.system && { system: row.system }),
      origin: row.created_by === 'catalog' ? 'catalog' : 'hub',
      ...(row.orphaned_at && { orphanedAt: toIso(row.orphaned_at) }),
      createdBy: row.created_by,
      createdAt: toIso(row.created_at),
      updatedAt: toIso(row.updated_at),
    };
  }

  private mapVersion(
    row: VersionRow,
    counts: {
      file_count?: number | string | null;
      total_size?: number | string | null;
    },
  ): HubVersion {
    return {
      id: row.id,
      modelId: row.model_id,
      label: row.label,
      state: row.state as VersionState,
      sourceType: row.source_type as HubVersion['sourceType'],
      source: parseJson(row.source, undefined),
      resolvedCommit: opt(row.resolved_commit),
      manifestDigest: opt(row.manifest_digest),
      notes: opt(row.notes),
      createdBy: row.created_by,
      createdAt: toIso(row.created_at),
      updatedAt: toIso(row.updated_at),
      revision: Number(row.revision),
      contentDigest: opt(row.content_digest),
      approvedDigest: opt(row.approved_digest),
      fileCount: Number(counts.file_count ?? 0),
      totalSize: Number(counts.total_size ?? 0),
    };
  }

  private mapFile(row: FileRow): HubFile {
    return {
      path: row.path,
      size: Number(row.size),
      sha256: row.sha256,
      kind: row.kind as HubFile['kind'],
      createdBy: row.created_by,
      createdAt: toIso(row.created_at),
    };
  }

  private mapBlob(row: BlobRow): HubBlob {
    return {
      sha256: row.sha256,
      size: Number(row.size),
      refCount: Number(row.ref_count),
      location: row.location,
      createdAt: toIso(row.created_at),
      lastReferencedAt: toIso(row.last_referenced_at),
    };
  }

  private mapJob(row: JobRow): HubJob {
    return {
      id: row.id,
      type: row.type,
      state: row.state as HubJob['state'],
      modelId: opt(row.model_id),
      modelRef: opt(row.model_ref ?? null),
      versionId: opt(row.version_id),
      params: parseJson(row.params, {}),
      progress: parseJson(row.progress, {}),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      leasedBy: opt(row.leased_by),
      leaseExpiresAt: toOptionalIso(row.lease_expires_at),
      error: opt(row.error),
      createdBy: row.created_by,
      createdAt: toIso(row.created_at),
      updatedAt: toIso(row.updated_at),
      startedAt: toOptionalIso(row.started_at),
      finishedAt: toOptionalIso(row.finished_at),
    };
  }
}
