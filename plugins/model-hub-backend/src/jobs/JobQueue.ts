import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';

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

type Row = {
  id: string;
  type: string;
  state: string;
  model_id: string | null;
  version_id: string | null;
  params: string;
  progress: string;
  attempts: number | string;
  max_attempts: number | string;
  created_by: string;
};

function parse(value: string | null): Record<string, unknown> {
  try {
    return value ? JSON.parse(value) : {};
  } catch {
    return {};
  }
}

/**
 * The job queue on the `jobs` table: jobs are claimed exactly once by
 * taking a lease (`leased_by`, `lease_expires_at`) that the worker renews
 * with heartbeats; a lease that expires (the instance died) makes the job
 * claimable again. Every later transition is fenced by the claim's
 * `attempts`, so a worker that lost its lease cannot overwrite the job.
 *
 * On PostgreSQL the claim is one `UPDATE … WHERE id = (SELECT … FOR UPDATE
 * SKIP LOCKED)`; on SQLite (one writer) a compare-and-set update.
 *
 * @internal
 */
export class JobQueue {
  private readonly isPostgres: boolean;

  constructor(
    private readonly db: Knex,
    readonly workerId: string = `worker-${randomUUID()}`,
  ) {
    this.isPostgres = String(db.client.config.client).includes('pg');
  }

  /** Queues a job. */
  async enqueue(options: {
    type: string;
    modelId?: string;
    versionId?: string;
    params?: Record<string, unknown>;
    maxAttempts?: number;
    createdBy: string;
  }): Promise<string> {
    const now = new Date();
    const id = randomUUID();
    await this.db('jobs').insert({
      id,
      type: options.type,
      state: 'queued',
      model_id: options.modelId ?? null,
      version_id: options.versionId ?? null,
      params: JSON.stringify(options.params ?? {}),
      progress: '{}',
      attempts: 0,
      max_attempts: options.maxAttempts ?? 5,
      created_by: options.createdBy,
      created_at: now,
      updated_at: now,
    });
    return id;
  }

  private claimable(query: Knex.QueryBuilder, types: string[], now: Date) {
    return query.whereIn('type', types).andWhere(q =>
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

  /** Claims the oldest claimable job of the given types, if any. */
  async claim(options: {
    types: string[];
    leaseMs: number;
  }): Promise<ClaimedJob | undefined> {
    if (!options.types.length) {
      return undefined;
    }
    const now = new Date();
    const update = {
      state: 'running',
      leased_by: this.workerId,
      lease_expires_at: new Date(now.getTime() + options.leaseMs),
      attempts: this.db.raw('attempts + 1'),
      started_at: this.db.raw('COALESCE(started_at, ?)', [now]),
      updated_at: now,
      run_after: null,
    };
    let row: Row | undefined;
    if (this.isPostgres) {
      const sub = this.claimable(this.db('jobs').select('id'), options.types, now)
        .orderBy([
          { column: 'created_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])
        .limit(1)
        .forUpdate()
        .skipLocked();
      const rows = await this.db('jobs')
        .where('id', sub)
        .update(update)
        .returning('*');
      row = rows[0];
    } else {
      const candidates: Row[] = await this.claimable(
        this.db('jobs').select('*'),
        options.types,
        now,
      )
        .orderBy([
          { column: 'created_at', order: 'asc' },
          { column: 'id', order: 'asc' },
        ])
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
      leasedBy: this.workerId,
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

  async log(
    jobId: string,
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
  ): Promise<void> {
    await this.db('job_logs').insert({
      job_id: jobId,
      created_at: new Date(),
      level,
      message: message.slice(0, 4000),
    });
  }
}
