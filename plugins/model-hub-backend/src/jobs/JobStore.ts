import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { Knex } from 'knex';
import { CreateJobOptions, ListJobsOptions } from '../database/ModelHubStore';
import { whereReadableModel } from '../database/modelReadFilter';
import { HubJob, HubJobLog } from '../database/types';
import { JobRow, mapJob, toIso } from '../database/rows';

/**
 * The attempts a job gets (one budget for every way a job is queued, and
 * again for a retry of a failed or cancelled job). @internal
 */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** A job claimed by a worker; `attempts` is its fencing token. @internal */
export type ClaimedJob = {
  id: string;
  type: string;
  modelId?: string;
  versionId?: string;
  params: Record<string, unknown>;
  progress: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  createdBy: string;
  leasedBy: string;
};

/** The outcome of failing a job. @internal */
export type FailOutcome = 'queued' | 'failed' | 'lost';

/** A job log level. @internal */
export type JobLogLevel = HubJobLog['level'];

function parse(value: string | null): Record<string, unknown> {
  try {
    return value ? JSON.parse(value) : {};
  } catch {
    return {};
  }
}

/**
 * The listeners woken after every enqueue in this process (the workers
 * register themselves while they run); a worker of another instance finds
 * the job at its next poll.
 */
const wakeListeners = new Set<() => void>();

/**
 * The owner of `jobs` and `job_logs` (issue 21): the one place that queues
 * a job (with one retry budget, {@link DEFAULT_MAX_ATTEMPTS}, and always
 * waking the workers), the claim/lease/fence transitions of the workers and
 * the transitions users make (retry, cancel).
 *
 * Jobs are claimed exactly once by taking a lease (`leased_by`,
 * `lease_expires_at`) that the worker renews with heartbeats; a lease that
 * expires (the instance died) makes the job claimable again. Every later
 * transition is fenced by the claim's `attempts`, so a worker that lost its
 * lease cannot overwrite the job. On PostgreSQL the claim is one `UPDATE …
 * WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`; on SQLite (one writer) a
 * compare-and-set update.
 *
 * @internal
 */
export class JobStore {
  private readonly isPostgres: boolean;

  constructor(private readonly db: Knex) {
    this.isPostgres = String(db.client.config.client).includes('pg');
  }

  /** Calls `listener` after every enqueue in this process; returns the unsubscribe. */
  static onEnqueue(listener: () => void): () => void {
    wakeListeners.add(listener);
    return () => {
      wakeListeners.delete(listener);
    };
  }

  /**
   * Queues a job and wakes the workers; its id. In `trx` the job commits
   * with the caller's writes (the workers find it at their next poll when
   * the wake-up came before the commit).
   */
  async enqueue(
    options: CreateJobOptions,
    trx?: Knex.Transaction,
  ): Promise<string> {
    const now = new Date();
    const id = randomUUID();
    await (trx ?? this.db)('jobs').insert({
      id,
      type: options.type,
      state: 'queued',
      model_id: options.modelId ?? null,
      version_id: options.versionId ?? null,
      params: JSON.stringify(options.params ?? {}),
      progress: '{}',
      attempts: 0,
      max_attempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
    });
    if (trx) {
      trx.executionPromise.then(wake, () => {});
    } else {
      wake();
    }
    return id;
  }

  /** Queues a job (see {@link JobStore.enqueue}) and returns it. */
  async createJob(options: CreateJobOptions): Promise<HubJob> {
    const id = await this.enqueue(options);
    return (await this.getJob({ id }))!;
  }

  async getJob(options: { id: string }): Promise<HubJob | undefined> {
    const row = await this.db('jobs as j')
      .leftJoin('models as m', 'm.id', 'j.model_id')
      .select('j.*', 'm.entity_ref as model_ref')
      .where('j.id', options.id)
      .first();
    return row ? mapJob(row) : undefined;
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
      items: rows.map((r: JobRow) => mapJob(r)),
      totalCount: Number(countRow?.count ?? 0),
    };
  }

  /**
   * Queues a failed or cancelled job again with a fresh budget of
   * {@link DEFAULT_MAX_ATTEMPTS} attempts (its attempts count on: they
   * fence the workers of its earlier attempts).
   */
  async retryJob(options: { id: string; actor: string }): Promise<HubJob> {
    const job = await this.transition({
      id: options.id,
      from: ['failed', 'cancelled'],
      action: 'retry',
      update: {
        state: 'queued',
        error: null,
        leased_by: null,
        lease_expires_at: null,
        finished_at: null,
        run_after: null,
        max_attempts: this.db.raw('attempts + ?', [DEFAULT_MAX_ATTEMPTS]),
      },
      log: `Retried by ${options.actor}`,
    });
    wake();
    return job;
  }

  async cancelJob(options: { id: string; actor: string }): Promise<HubJob> {
    return this.transition({
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

  private async transition(options: {
    id: string;
    from: string[];
    action: string;
    update: Record<string, unknown>;
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
      await this.log(options.id, 'info', options.log, tx);
    });
    return (await this.getJob({ id: options.id }))!;
  }

  /** Deletes the jobs of a model (it is being deleted). */
  async deleteJobsOfModel(
    trx: Knex.Transaction | undefined,
    modelId: string,
  ): Promise<void> {
    await (trx ?? this.db)('jobs').where({ model_id: modelId }).delete();
  }

  /** Appends a line to the log of a job (at most 4000 characters). */
  async log(
    jobId: string,
    level: JobLogLevel,
    message: string,
    trx?: Knex.Transaction,
  ): Promise<void> {
    await (trx ?? this.db)('job_logs').insert({
      job_id: jobId,
      created_at: new Date(),
      level,
      message: message.slice(0, 4000),
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

  private claimable(query: Knex.QueryBuilder, types: string[], now: Date) {
    return query
      .whereIn('type', types)
      .andWhere(q =>
        q
          .where(qq =>
            qq
              .where('state', 'queued')
              .andWhere(r =>
                r.whereNull('run_after').orWhere('run_after', '<=', now),
              ),
          )
          .orWhere(qq =>
            qq.where('state', 'running').andWhere('lease_expires_at', '<', now),
          ),
      );
  }

  /** Claims the oldest claimable job of the given types for `workerId`. */
  async claim(options: {
    workerId: string;
    types: string[];
    leaseMs: number;
  }): Promise<ClaimedJob | undefined> {
    if (!options.types.length) {
      return undefined;
    }
    const now = new Date();
    const update = {
      state: 'running',
      leased_by: options.workerId,
      lease_expires_at: new Date(now.getTime() + options.leaseMs),
      attempts: this.db.raw('attempts + 1'),
      started_at: this.db.raw('COALESCE(started_at, ?)', [now]),
      updated_at: now,
      run_after: null,
    };
    const order = [
      { column: 'created_at', order: 'asc' },
      { column: 'id', order: 'asc' },
    ];
    let row: JobRow | undefined;
    if (this.isPostgres) {
      const sub = this.claimable(
        this.db('jobs').select('id'),
        options.types,
        now,
      )
        .orderBy(order)
        .limit(1)
        .forUpdate()
        .skipLocked();
      const rows = await this.db('jobs')
        .where('id', sub)
        .update(update)
        .returning('*');
      row = rows[0];
    } else {
      const candidates: JobRow[] = await this.claimable(
        this.db('jobs').select('*'),
        options.types,
        now,
      )
        .orderBy(order)
        .limit(10);
      for (const candidate of candidates) {
        // compare-and-set: only if nobody claimed it since the read
        const updated = await this.claimable(
          this.db('jobs').where({
            id: candidate.id,
            state: candidate.state,
            attempts: candidate.attempts,
          }),
          options.types,
          now,
        ).update(update);
        if (updated === 1) {
          row = await this.db('jobs').where({ id: candidate.id }).first();
          break;
        }
      }
    }
    if (!row) {
      return undefined;
    }
    const job: ClaimedJob = {
      id: row.id,
      type: row.type,
      modelId: row.model_id ?? undefined,
      versionId: row.version_id ?? undefined,
      params: parse(row.params),
      progress: parse(row.progress),
      attempts: Number(row.attempts),
      maxAttempts: Number(row.max_attempts),
      createdBy: row.created_by,
      leasedBy: options.workerId,
    };
    if (job.attempts > job.maxAttempts) {
      // its lease expired once too often (the instances running it died)
      await this.fail(job, {
        error: `Gave up after ${job.maxAttempts} attempts whose leases expired`,
        retryable: false,
      });
      return this.claim(options);
    }
    return job;
  }

  private fenced(job: ClaimedJob) {
    return this.db('jobs').where({
      id: job.id,
      leased_by: job.leasedBy,
      attempts: job.attempts,
      state: 'running',
    });
  }

  /**
   * Renews the lease and stores progress; false when the lease is lost (the
   * job was cancelled, or another worker took it over).
   */
  async heartbeat(
    job: ClaimedJob,
    options: { leaseMs: number; progress?: Record<string, unknown> },
  ): Promise<boolean> {
    const now = new Date();
    const updated = await this.fenced(job).update({
      lease_expires_at: new Date(now.getTime() + options.leaseMs),
      updated_at: now,
      ...(options.progress && { progress: JSON.stringify(options.progress) }),
    });
    return updated === 1;
  }

  /** Marks a job succeeded; false when the lease was lost. */
  async complete(
    job: ClaimedJob,
    options: { progress?: Record<string, unknown> } = {},
  ): Promise<boolean> {
    const now = new Date();
    const updated = await this.fenced(job).update({
      state: 'succeeded',
      leased_by: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
      error: null,
      ...(options.progress && { progress: JSON.stringify(options.progress) }),
    });
    return updated === 1;
  }

  /**
   * Fails an attempt: a retryable failure is queued again after a backoff
   * (`retryAfterMs`, or exponential in the attempts) until `maxAttempts`.
   */
  async fail(
    job: ClaimedJob,
    options: {
      error: string;
      retryable: boolean;
      retryAfterMs?: number;
      progress?: Record<string, unknown>;
    },
  ): Promise<FailOutcome> {
    const now = new Date();
    const retry = options.retryable && job.attempts < job.maxAttempts;
    const delay =
      options.retryAfterMs ??
      Math.min(5 * 60_000, 1000 * 2 ** Math.max(0, job.attempts - 1));
    const updated = await this.fenced(job).update({
      state: retry ? 'queued' : 'failed',
      leased_by: null,
      lease_expires_at: null,
      error: options.error,
      updated_at: now,
      run_after: retry ? new Date(now.getTime() + delay) : null,
      finished_at: retry ? null : now,
      ...(options.progress && { progress: JSON.stringify(options.progress) }),
    });
    if (updated !== 1) {
      return 'lost';
    }
    return retry ? 'queued' : 'failed';
  }

  /** Gives a job back without counting the attempt (worker shutdown). */
  async release(job: ClaimedJob): Promise<void> {
    await this.fenced(job).update({
      state: 'queued',
      leased_by: null,
      lease_expires_at: null,
      attempts: this.db.raw('attempts - 1'),
      updated_at: new Date(),
    });
  }
}

function wake() {
  for (const listener of wakeListeners) {
    listener();
  }
}
