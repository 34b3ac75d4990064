import { LoggerService } from '@backstage/backend-plugin-api';
import { ClaimedJob, JobQueue } from './JobQueue';
import { JobSignals } from './JobSignals';
import { redactUrlsInText } from '../service/redactUrl';

/**
 * An error that fails the attempt but lets the job run again later, after
 * `retryAfterMs` when given (e.g. from a `Retry-After` header).
 *
 * @internal
 */
export class RetryableJobError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'RetryableJobError';
  }
}

/** What an executor gets to run one job. @internal */
export type JobContext = {
  job: ClaimedJob;
  /** Aborted when the job is cancelled, its lease is lost, or on shutdown. */
  signal: AbortSignal;
  logger: LoggerService;
  log(
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
  ): Promise<void>;
  /** Records progress; stored with the next heartbeat and signalled live. */
  progress(progress: Record<string, unknown>): void;
};

/** Runs the jobs of one type. @internal */
export type JobExecutor = (ctx: JobContext) => Promise<void>;

/** @internal */
export type JobWorkerOptions = {
  queue: JobQueue;
  logger: LoggerService;
  executors: Record<string, JobExecutor>;
  /** Jobs run at the same time by this worker. */
  concurrency: number;
  /** Lease duration; heartbeats renew it every third of it. */
  leaseMs?: number;
  /** How often an idle worker looks for jobs. */
  pollIntervalMs?: number;
  /**
   * Live progress to the users who may read the job's model
   * ({@link JobSignals}); never a broadcast.
   */
  signals?: Pick<JobSignals, 'publish'>;
};

/**
 * Claims and runs jobs: up to `concurrency` at once, with a heartbeat that
 * renews the lease and stores progress, live progress through the signals
 * service, and cancellation (the heartbeat notices a cancelled job and
 * aborts its executor).
 *
 * @internal
 */
export class JobWorker {
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly running = new Map<string, AbortController>();
  private stopped = true;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** A wake-up came while the loop was not asleep (claiming). */
  private poked = false;
  private unsubscribe?: () => void;

  constructor(private readonly options: JobWorkerOptions) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /** Starts polling for jobs. */
  start() {
    if (!this.stopped) {
      return;
    }
    this.stopped = false;
    // every enqueue in this process wakes an idle worker
    this.unsubscribe = this.options.queue.onEnqueue(() => this.poke());
    this.loop = this.run();
  }

  /** Asks an idle worker to look for jobs now (after an enqueue). */
  poke() {
    this.poked = true;
    this.wake?.();
  }

  /** Stops claiming, aborts running jobs and gives their leases back. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.wake?.();
    for (const controller of this.running.values()) {
      controller.abort(new Error('The worker is shutting down'));
    }
    await this.loop;
  }

  private async run() {
    const active = new Set<Promise<void>>();
    while (!this.stopped) {
      let claimed: ClaimedJob | undefined;
      this.poked = false;
      if (active.size < this.options.concurrency) {
        try {
          claimed = await this.options.queue.claim({
            types: Object.keys(this.options.executors),
            leaseMs: this.leaseMs,
          });
        } catch (error) {
          this.options.logger.warn(`Claiming a job failed: ${error}`);
        }
      }
      if (claimed) {
        const p = this.runJob(claimed).finally(() => {
          active.delete(p);
          this.poke();
        });
        active.add(p);
        continue;
      }
      if (this.poked) {
        // a job was queued (or a slot freed) while claiming: look again
        continue;
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, this.pollIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    await Promise.allSettled(active);
  }

  /** Runs one claimed job to its end. @internal */
  async runJob(job: ClaimedJob): Promise<void> {
    const { queue } = this.options;
    const logger = this.options.logger.child({ jobId: job.id, type: job.type });
    const controller = new AbortController();
    this.running.set(job.id, controller);
    let progress: Record<string, unknown> = job.progress;
    let dirty = false;
    let lastSignal = 0;
    let lost = false;

    // one signal at a time per job, in order (a state change after progress)
    let signalled = Promise.resolve();
    const signal = (state: string, force = false) => {
      const now = Date.now();
      const signals = this.options.signals;
      if (!signals || (!force && now - lastSignal < 1000)) {
        return;
      }
      lastSignal = now;
      const snapshot = progress;
      signalled = signalled
        .then(() => signals.publish(job, state, snapshot))
        .catch(e => logger.debug(`Publishing a job signal failed: ${e}`));
    };

    const heartbeatEvery = Math.max(50, Math.min(this.leaseMs / 3, 2000));
    const heartbeat = setInterval(async () => {
      try {
        const p = dirty ? progress : undefined;
        dirty = false;
        const ok = await queue.heartbeat(job, {
          leaseMs: this.leaseMs,
          progress: p,
        });
        if (!ok && !lost) {
          lost = true;
          controller.abort(
            new Error('The job was cancelled or its lease was lost'),
          );
        }
      } catch (error) {
        logger.warn(`Heartbeat failed: ${error}`);
      }
    }, heartbeatEvery);

    const ctx: JobContext = {
      job,
      signal: controller.signal,
      logger,
      log: async (level, text) => {
        // job logs are shown to users: no credentials of URLs in them
        const message = redactUrlsInText(text);
        logger[level](message);
        await queue.log(job.id, level, message);
      },
      progress: p => {
        progress = p;
        dirty = true;
        signal('running');
      },
    };

    signal('running', true);
    try {
      await ctx.log(
        'info',
        `Attempt ${job.attempts} of ${job.maxAttempts} on ${queue.workerId}`,
      );
      await this.options.executors[job.type](ctx);
      clearInterval(heartbeat);
      if (await queue.complete(job, { progress })) {
        await queue.log(job.id, 'info', 'Succeeded');
        signal('succeeded', true);
      }
    } catch (error) {
      clearInterval(heartbeat);
      const message = redactUrlsInText(
        error instanceof Error ? error.message : String(error),
      );
      if (this.stopped && controller.signal.aborted && !lost) {
        await queue.release(job).catch(() => {});
        logger.info('Released the job at shutdown');
      } else if (lost) {
        logger.info(`Stopped: ${message}`);
        signal('cancelled', true);
      } else {
        const retryable = error instanceof RetryableJobError;
        const outcome = await queue.fail(job, {
          error: message,
          retryable,
          retryAfterMs: retryable ? error.retryAfterMs : undefined,
          progress,
        });
        if (outcome !== 'lost') {
          await queue
            .log(
              job.id,
              outcome === 'failed' ? 'error' : 'warn',
              outcome === 'failed'
                ? `Failed: ${message}`
                : `Attempt failed, will retry: ${message}`,
            )
            .catch(() => {});
        }
        logger.warn(`Job attempt failed (${outcome}): ${message}`);
        signal(outcome === 'queued' ? 'queued' : 'failed', true);
      }
    } finally {
      clearInterval(heartbeat);
      this.running.delete(job.id);
      // the last signal is out before the slot frees (bounded: a slow
      // signals service never holds a worker)
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        signalled,
        new Promise<void>(resolve => {
          timer = setTimeout(resolve, 5000);
        }),
      ]);
      clearTimeout(timer);
    }
  }
}
