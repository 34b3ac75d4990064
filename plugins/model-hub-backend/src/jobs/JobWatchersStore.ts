import { Knex } from 'knex';
import { ModelCondition, whereModel } from '../database/modelReadFilter';

/** A user who receives job signals, with the models they may read. @internal */
export type JobWatcher = {
  userRef: string;
  /** The read condition their own credentials had at their last read. */
  condition: ModelCondition;
};

type WatcherRow = {
  user_ref: string;
  read_condition: string;
  expires_at: Date | string | number;
  updated_at: Date | string | number;
};

/** Bind values in one statement of {@link JobWatchersStore.admitting}. */
const MAX_BINDS_PER_STATEMENT = 10_000;
/** Conditions in one statement (SQLite allows 500 compound selects). */
const MAX_CONDITIONS_PER_STATEMENT = 100;

function bindCount(cond: ModelCondition): number {
  switch (cond.op) {
    case 'and':
    case 'or':
      return cond.items.reduce((n, item) => n + bindCount(item), 1);
    case 'not':
      return bindCount(cond.item) + 1;
    case 'in':
      return cond.values.length + 1;
    case 'tag':
      return (cond.values?.length ?? 0) + 1;
    default:
      return 1;
  }
}

/**
 * The owner of `job_watchers`: the users who receive live job signals, each
 * with the read condition of their last `GET /jobs` (the policy's decision
 * for their own credentials), until the watch expires.
 *
 * @internal
 */
export class JobWatchersStore {
  constructor(private readonly db: Knex) {}

  /** Records (or renews) a watcher until `expiresAt`. */
  async watch(options: {
    userRef: string;
    condition: ModelCondition;
    expiresAt: Date;
  }): Promise<void> {
    const now = new Date();
    await this.db<WatcherRow>('job_watchers')
      .insert({
        user_ref: options.userRef,
        read_condition: JSON.stringify(options.condition),
        expires_at: options.expiresAt,
        updated_at: now,
      })
      .onConflict('user_ref')
      .merge(['read_condition', 'expires_at', 'updated_at']);
  }

  /**
   * The watchers whose watch has not expired, the most recently renewed
   * first, at most `limit`.
   */
  async listWatchers(options: {
    limit: number;
    now?: Date;
  }): Promise<JobWatcher[]> {
    const rows = await this.db<WatcherRow>('job_watchers')
      .where('expires_at', '>', options.now ?? new Date())
      .orderBy([
        { column: 'expires_at', order: 'desc' },
        { column: 'user_ref', order: 'asc' },
      ])
      .limit(options.limit);
    const watchers: JobWatcher[] = [];
    for (const row of rows) {
      try {
        watchers.push({
          userRef: row.user_ref,
          condition: JSON.parse(row.read_condition) as ModelCondition,
        });
      } catch {
        // an unreadable condition admits nothing
      }
    }
    return watchers;
  }

  /**
   * Which of the conditions admit the model (by id): the indexes of those
   * whose `models` query, the one `GET /jobs` filters with
   * ({@link whereModel}), finds the model's row.
   */
  async admitting(
    modelId: string,
    conditions: ModelCondition[],
  ): Promise<Set<number>> {
    const admitted = new Set<number>();
    let batch: number[] = [];
    let binds = 0;
    const flush = async () => {
      if (batch.length === 0) {
        return;
      }
      const [first, ...rest] = batch.map(i =>
        this.db('models as rm')
          .select(this.db.raw('? as k', [i]))
          .where('rm.id', modelId)
          .where(b => whereModel(b, this.db, conditions[i], 'rm')),
      );
      // no parentheses: SQLite has none around the parts of a compound
      const rows: { k: number | string }[] = await (rest.length > 0
        ? first.unionAll(rest)
        : first);
      rows.forEach(r => admitted.add(Number(r.k)));
      batch = [];
      binds = 0;
    };
    for (const [i, cond] of conditions.entries()) {
      if (cond.op === 'all') {
        admitted.add(i);
        continue;
      }
      if (cond.op === 'none') {
        continue;
      }
      const n = bindCount(cond) + 2;
      if (
        batch.length >= MAX_CONDITIONS_PER_STATEMENT ||
        (batch.length > 0 && binds + n > MAX_BINDS_PER_STATEMENT)
      ) {
        await flush();
      }
      batch.push(i);
      binds += n;
    }
    await flush();
    return admitted;
  }
}
