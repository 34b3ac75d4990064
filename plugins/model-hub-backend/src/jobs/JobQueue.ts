import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { CreateJobOptions } from '../database/ModelHubStore';
import { ClaimedJob, FailOutcome, JobLogLevel, JobStore } from './JobStore';

export type { ClaimedJob, FailOutcome } from './JobStore';

/**
 * One worker identity's view of the job store ({@link JobStore}, the owner
 * of `jobs` and `job_logs`): queues jobs and claims, renews, completes,
 * fails and releases them as `workerId`.
 *
 * @internal
 */
export class JobQueue {
  readonly store: JobStore;

  constructor(db: Knex, readonly workerId: string = `worker-${randomUUID()}`) {
    this.store = new JobStore(db);
  }

  /** Queues a job and wakes the workers (see {@link JobStore.enqueue}). */
  enqueue(options: CreateJobOptions, trx?: Knex.Transaction): Promise<string> {
    return this.store.enqueue(options, trx);
  }

  /** Claims the oldest claimable job of the given types, if any. */
  claim(options: {
    types: string[];
    leaseMs: number;
  }): Promise<ClaimedJob | undefined> {
    return this.store.claim({ ...options, workerId: this.workerId });
  }

  /**
   * Renews the lease and stores progress; false when the lease is lost (the
   * job was cancelled, or another worker took it over).
   */
  heartbeat(
    job: ClaimedJob,
    options: { leaseMs: number; progress?: Record<string, unknown> },
  ): Promise<boolean> {
    return this.store.heartbeat(job, options);
  }

  /** Marks a job succeeded; false when the lease was lost. */
  complete(
    job: ClaimedJob,
    options: { progress?: Record<string, unknown> } = {},
  ): Promise<boolean> {
    return this.store.complete(job, options);
  }

  /**
   * Fails an attempt: a retryable failure is queued again after a backoff
   * (`retryAfterMs`, or exponential in the attempts) until `maxAttempts`.
   */
  fail(
    job: ClaimedJob,
    options: {
      error: string;
      retryable: boolean;
      retryAfterMs?: number;
      progress?: Record<string, unknown>;
    },
  ): Promise<FailOutcome> {
    return this.store.fail(job, options);
  }

  /** Gives a job back without counting the attempt (worker shutdown). */
  release(job: ClaimedJob): Promise<void> {
    return this.store.release(job);
  }

  log(jobId: string, level: JobLogLevel, message: string): Promise<void> {
    return this.store.log(jobId, level, message);
  }

  /** Calls `listener` after every enqueue in this process (see {@link JobStore.onEnqueue}). */
  onEnqueue(listener: () => void): () => void {
    return JobStore.onEnqueue(listener);
  }
}
