import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { ConflictError, InputError } from '@backstage/errors';
import { Knex } from 'knex';
import { ModelCondition } from './modelReadFilter';
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
} from './types';
import { findHfRepoHolder, HfRepoHolder } from './hfRepoIdentity';
import { conflictOnDuplicate, mapVersion } from './rows';
import { ModelsStore } from './ModelsStore';
import { VersionsStore } from './VersionsStore';
import { FilesStore } from './FilesStore';
import { ActivityStore } from './ActivityStore';
import { JobStore } from '../jobs/JobStore';

export { modelEntityRef } from './rows';

const migrationsDir = resolvePackagePath(
  '@model-hub/backstage-plugin-model-hub-backend',
  'migrations',
);

/**
 * The Knex implementation of {@link ModelHubStore}, on SQLite and PostgreSQL:
 * a facade over the owner stores of the hub's tables (issue 21), which do
 * every write: {@link ModelsStore}, {@link VersionsStore},
 * {@link FilesStore}, {@link ActivityStore} and {@link JobStore}.
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

  readonly models: ModelsStore;
  readonly versions: VersionsStore;
  readonly files: FilesStore;
  readonly activity: ActivityStore;
  readonly jobs: JobStore;

  private constructor(private readonly db: Knex) {
    this.models = new ModelsStore(db);
    this.versions = new VersionsStore(db);
    this.files = new FilesStore(db, this.versions);
    this.activity = new ActivityStore(db);
    this.jobs = new JobStore(db);
  }

  createModel(options: CreateModelOptions): Promise<HubModel> {
    return this.models.createModel(options);
  }

  getHfRepoHolder(
    filter: { repoId: string } | { modelId: string },
  ): Promise<HfRepoHolder | undefined> {
    return findHfRepoHolder(this.db, filter);
  }

  getModel(options: { entityRef: string }): Promise<HubModel | undefined> {
    return this.models.getModel(options);
  }

  listModels(
    options: ListModelsOptions,
  ): Promise<{ items: HubModelSummary[]; totalCount: number }> {
    return this.models.listModels(options);
  }

  /**
   * Creates a draft version with its expected file list (HF) and files, in
   * one transaction that also touches the model.
   */
  async createVersion(options: CreateVersionOptions): Promise<HubVersion> {
    const now = new Date();
    const files = options.files ?? [];
    const row = await conflictOnDuplicate(
      `Version ${options.label} already exists`,
      () =>
        this.db.transaction(async tx => {
          const existing = await tx('model_versions')
            .where({ model_id: options.modelId, label: options.label })
            .first('id');
          if (existing) {
            throw new ConflictError(`Version ${options.label} already exists`);
          }
          const inserted = await this.versions.insertVersion(tx, options, now);
          for (const file of files) {
            const { created } = await this.files.insertFile(
              tx,
              { ...file, versionId: inserted.id, createdBy: options.createdBy },
              now,
            );
            if (!created) {
              throw new InputError(`File ${file.path} is listed twice`);
            }
          }
          if (files.length) {
            await this.files.advanceVersion(
              tx,
              inserted.id,
              Boolean(options.expectedFiles?.length),
            );
            inserted.revision = 1;
          }
          await this.models.touchModel(tx, options.modelId, now);
          return inserted;
        }),
    );
    const version = await this.getVersion({
      modelId: options.modelId,
      label: options.label,
    });
    return version ?? mapVersion(row, { file_count: 0, total_size: 0 });
  }

  getVersion(options: {
    modelId: string;
    label: string;
  }): Promise<HubVersion | undefined> {
    return this.versions.getVersion(options);
  }

  listVersions(options: { modelId: string }): Promise<HubVersion[]> {
    return this.versions.listVersions(options);
  }

  addFile(
    options: AddFileOptions,
  ): Promise<{ file: HubFile; created: boolean }> {
    return this.files.addFile(options);
  }

  removeFile(options: { versionId: string; path: string }): Promise<void> {
    return this.files.removeFile(options);
  }

  listExpectedFiles(options: { versionId: string }): Promise<ExpectedFile[]> {
    return this.versions.listExpectedFiles(options);
  }

  listContributors(options: { versionId: string }): Promise<string[]> {
    return this.versions.listContributors(options);
  }

  getFile(options: {
    versionId: string;
    path: string;
  }): Promise<HubFile | undefined> {
    return this.files.getFile(options);
  }

  listFiles(options: { versionId: string }): Promise<HubFile[]> {
    return this.files.listFiles(options);
  }

  getBlob(options: { sha256: string }): Promise<HubBlob | undefined> {
    return this.files.getBlob(options);
  }

  listUnreferencedBlobs(options: {
    before: Date;
    limit: number;
  }): Promise<HubBlob[]> {
    return this.files.listUnreferencedBlobs(options);
  }

  deleteUnreferencedBlob(options: {
    sha256: string;
    before: Date;
    fn: () => Promise<void>;
  }): Promise<boolean> {
    return this.files.deleteUnreferencedBlob(options);
  }

  findBlobs(options: { sha256s: string[] }): Promise<Set<string>> {
    return this.files.findBlobs(options);
  }

  createJob(options: CreateJobOptions): Promise<HubJob> {
    return this.jobs.createJob(options);
  }

  getJob(options: { id: string }): Promise<HubJob | undefined> {
    return this.jobs.getJob(options);
  }

  listJobs(
    options: ListJobsOptions,
  ): Promise<{ items: HubJob[]; totalCount: number }> {
    return this.jobs.listJobs(options);
  }

  retryJob(options: { id: string; actor: string }): Promise<HubJob> {
    return this.jobs.retryJob(options);
  }

  cancelJob(options: { id: string; actor: string }): Promise<HubJob> {
    return this.jobs.cancelJob(options);
  }

  appendJobLog(options: {
    jobId: string;
    level: HubJobLog['level'];
    message: string;
  }): Promise<void> {
    return this.jobs.log(options.jobId, options.level, options.message);
  }

  listJobLogs(options: {
    jobId: string;
    afterId?: number;
    limit: number;
  }): Promise<HubJobLog[]> {
    return this.jobs.listJobLogs(options);
  }

  getStats(options: { readable?: ModelCondition } = {}): Promise<HubStats> {
    return this.activity.getStats(options);
  }

  addAuditEvent(
    options: AuditEventOptions,
    trx?: Knex.Transaction,
  ): Promise<void> {
    return this.activity.addAuditEvent(options, trx);
  }

  listAuditEvents(options: {
    limit: number;
    readable?: ModelCondition;
  }): Promise<HubAuditEvent[]> {
    return this.activity.listAuditEvents(options);
  }

  recordDownload(options: { bytes: number; at?: Date }): Promise<void> {
    return this.activity.recordDownload(options);
  }

  getStatsHistory(options: {
    days: number;
    now?: Date;
  }): Promise<HubStatsPoint[]> {
    return this.activity.getStatsHistory(options);
  }
}
