import { LoggerService } from '@backstage/backend-plugin-api';
import { SignalsService } from '@backstage/plugin-signals-node';
import { ModelCondition } from '../database/modelReadFilter';
import { JobWatcher, JobWatchersStore } from './JobWatchersStore';

/** The signals channel of job progress. @public */
export const JOBS_SIGNAL_CHANNEL = 'model-hub:jobs';

/** How long a read of the jobs keeps a user receiving their signals. */
const DEFAULT_WATCH_MS = 5 * 60_000;
/** A watch is written again after this long (or when its condition changes). */
const DEFAULT_RENEW_MS = 60_000;
/** How long the watchers and a model's recipients are reused. */
const DEFAULT_CACHE_MS = 1000;
/** The most watchers a signal goes to (the most recently renewed). */
const DEFAULT_MAX_RECIPIENTS = 500;

/** The progress fields a signal carries (what the jobs page shows). */
const NUMBER_FIELDS = [
  'bytes',
  'totalBytes',
  'bytesDone',
  'bytesTotal',
  'filesDone',
  'filesTotal',
  'rate',
  'etaSeconds',
  'fraction',
];
const TEXT_FIELDS = ['file', 'message'];
const MAX_TEXT = 200;

/** The message of a job signal: small, no lists. @public */
export type JobSignalMessage = {
  jobId: string;
  type: string;
  /**
   * The id of the job's model (as `GET /models/...` answers it), absent for
   * jobs without a model: a model's page picks its own jobs by it. Only
   * users who may read the model receive it.
   */
  modelId?: string;
  state: string;
  progress: Record<string, number | string | null>;
};

/** The job a signal is about. @internal */
export type SignalledJob = { id: string; type: string; modelId?: string };

/** The progress fields of a signal, from a job's progress. @internal */
export function signalProgress(
  progress: Record<string, unknown>,
): JobSignalMessage['progress'] {
  const out: JobSignalMessage['progress'] = {};
  for (const key of NUMBER_FIELDS) {
    const v = progress[key];
    if (v === null || (typeof v === 'number' && Number.isFinite(v))) {
      out[key] = v;
    }
  }
  for (const key of TEXT_FIELDS) {
    const v = progress[key];
    if (typeof v === 'string') {
      out[key] = v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT - 1)}…` : v;
    }
  }
  return out;
}

type Cached<T> = { at: number; value: Promise<T> };

/**
 * Live job progress for the users who may read the job's model, on every
 * instance: a signal goes to the users (`recipients: { type: 'user' }`,
 * never a broadcast) who listed jobs within the last few minutes and whose
 * read condition, decided by the permission policy with their own
 * credentials at that read, admits the job's model (the same query
 * `GET /jobs` filters with). Jobs without a model go to every watcher, as
 * `GET /jobs` lists them to every caller. The watchers live in the
 * database, so a job on any instance reaches users who read through any
 * other; the signals service carries the signal through the events service
 * (with the events backend's database bus, to every instance).
 *
 * @internal
 */
export class JobSignals {
  private readonly store: JobWatchersStore;
  private readonly watchMs: number;
  private readonly renewMs: number;
  private readonly cacheMs: number;
  private readonly maxRecipients: number;
  /** What this instance wrote last per user: skips unchanged rewrites. */
  private readonly written = new Map<
    string,
    { condition: string; at: number }
  >();
  private watchers?: Cached<JobWatcher[]>;
  private readonly recipients = new Map<string, Cached<string[]>>();

  constructor(
    private readonly options: {
      store: JobWatchersStore;
      logger: LoggerService;
      /** Without it nothing is published (watches are still recorded). */
      signals?: Pick<SignalsService, 'publish'>;
      watchMs?: number;
      renewMs?: number;
      cacheMs?: number;
      maxRecipients?: number;
    },
  ) {
    this.store = options.store;
    this.watchMs = options.watchMs ?? DEFAULT_WATCH_MS;
    this.renewMs = options.renewMs ?? DEFAULT_RENEW_MS;
    this.cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
    this.maxRecipients = options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
  }

  /**
   * Records that a user read the jobs with a read condition (their own
   * credentials' decision): they receive the signals of the jobs of the
   * models it admits for the next few minutes. Failures are logged, never
   * thrown (the read itself succeeded).
   */
  async watch(userRef: string, condition: ModelCondition): Promise<void> {
    const json = JSON.stringify(condition);
    const now = Date.now();
    const last = this.written.get(userRef);
    if (last && last.condition === json && now - last.at < this.renewMs) {
      return;
    }
    try {
      await this.store.watch({
        userRef,
        condition,
        expiresAt: new Date(now + this.watchMs),
      });
      this.written.set(userRef, { condition: json, at: now });
      if (this.written.size > 10_000) {
        this.written.clear();
      }
      if (!last || last.condition !== json) {
        // a changed condition applies to the next signal
        this.watchers = undefined;
        this.recipients.clear();
      }
    } catch (error) {
      this.options.logger.warn(
        `Recording ${userRef} as a watcher of job signals failed: ${error}`,
      );
    }
  }

  private cached<T>(
    entry: Cached<T> | undefined,
    load: () => Promise<T>,
  ): Cached<T> {
    const now = Date.now();
    if (entry && now - entry.at < this.cacheMs) {
      return entry;
    }
    const value = load();
    // a failed load is not reused
    value.catch(() => {});
    return { at: now, value };
  }

  /** The users a signal of a job of the model (by id) goes to. */
  async recipientsOf(modelId: string | undefined): Promise<string[]> {
    this.watchers = this.cached(this.watchers, () =>
      this.store.listWatchers({ limit: this.maxRecipients }),
    );
    const watchers = this.watchers;
    const key = modelId ?? '';
    const entry = this.cached(this.recipients.get(key), async () => {
      const list = await watchers.value;
      if (!modelId) {
        return list.map(w => w.userRef);
      }
      const admitted = await this.store.admitting(
        modelId,
        list.map(w => w.condition),
      );
      return list.filter((_, i) => admitted.has(i)).map(w => w.userRef);
    });
    this.recipients.set(key, entry);
    try {
      return await entry.value;
    } catch (error) {
      this.watchers = undefined;
      this.recipients.delete(key);
      throw error;
    }
  }

  /**
   * Publishes a job's state and progress to the users who may read its
   * model; nothing when there are none.
   */
  async publish(
    job: SignalledJob,
    state: string,
    progress: Record<string, unknown>,
  ): Promise<void> {
    const signals = this.options.signals;
    if (!signals) {
      return;
    }
    const users = await this.recipientsOf(job.modelId);
    if (users.length === 0) {
      return;
    }
    const message: JobSignalMessage = {
      jobId: job.id,
      type: job.type,
      ...(job.modelId ? { modelId: job.modelId } : {}),
      state,
      progress: signalProgress(progress),
    };
    await signals.publish({
      recipients: { type: 'user', entityRef: users },
      channel: JOBS_SIGNAL_CHANNEL,
      message,
    });
  }
}
