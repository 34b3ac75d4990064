import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import { SignalsService } from '@backstage/plugin-signals-node';
import { Knex } from 'knex';
import { JobQueue } from './JobQueue';
import { JobSignals } from './JobSignals';
import { JobWatchersStore } from './JobWatchersStore';
import { JobExecutor, JobWorker } from './JobWorker';

/**
 * The jobs of the hub: one queue on the plugin's database (this instance's
 * worker identity) and the pools of workers that run the job types the
 * features contribute. Workers start with the backend and stop (giving
 * their leases back) at shutdown.
 *
 * @internal
 */
export class JobRunner {
  readonly queue: JobQueue;
  /**
   * Live job progress for the users who may read each job's model; the
   * jobs routes record who reads ({@link JobSignals.watch}).
   */
  readonly signals: JobSignals;
  private readonly workers: JobWorker[] = [];
  private started = false;

  constructor(
    private readonly options: {
      db: Knex;
      logger: LoggerService;
      signals?: SignalsService;
      /** Starts and stops the workers with the backend. */
      lifecycle?: Pick<LifecycleService, 'addStartupHook' | 'addShutdownHook'>;
      workerId?: string;
    },
  ) {
    this.queue = new JobQueue(
      options.db,
      options.workerId ??
        `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    );
    this.signals = new JobSignals({
      store: new JobWatchersStore(options.db),
      logger: options.logger,
      signals: options.signals,
    });
    options.lifecycle?.addStartupHook(() => this.start());
    options.lifecycle?.addShutdownHook(() => this.stop());
  }

  /** Adds a pool of workers for some job types; started with the others. */
  addPool(pool: {
    concurrency: number;
    executors: Record<string, JobExecutor>;
  }): void {
    const worker = new JobWorker({
      queue: this.queue,
      logger: this.options.logger,
      executors: pool.executors,
      concurrency: pool.concurrency,
      signals: this.signals,
    });
    this.workers.push(worker);
    if (this.started) {
      worker.start();
    }
  }

  /** Wakes idle workers: a job was queued. */
  wake(): void {
    this.workers.forEach(w => w.poke());
  }

  start(): void {
    this.started = true;
    this.workers.forEach(w => w.start());
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all(this.workers.map(w => w.stop()));
  }
}
