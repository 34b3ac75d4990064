import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Lock, Locker, RequestRelease } from '@tus/server';
import { Knex } from 'knex';
import { TusHttpError } from './tusErrors';

/** Timing of the upload locks shared by the backend instances. @internal */
export type UploadLockSettings = {
  /**
   * A holder that stops renewing (its instance died) loses the lock this
   * long after its last renewal.
   */
  leaseMs: number;
  /**
   * How often a holder renews its lease and looks for a release request
   * (a waiting request tries again every 250 ms, or this if shorter).
   */
  heartbeatMs: number;
  /** A request that cannot take the lock in this time answers 423. */
  acquireTimeoutMs: number;
};

/** @internal */
export const DEFAULT_LOCK_SETTINGS: UploadLockSettings = {
  leaseMs: 15_000,
  heartbeatMs: 1_000,
  acquireTimeoutMs: 30_000,
};

/**
 * What a request that cannot take an upload's lock in time answers: 423,
 * which tus clients retry (tus-js-client retries 409 and 423).
 *
 * @internal
 */
export const ERR_UPLOAD_LOCKED = new TusHttpError(
  423,
  'The upload is locked by another request; retry later\n',
);

const TABLE = 'upload_locks';
/** How often a waiting request tries again, at most. */
const WAIT_POLL_MS = 250;

type Row = {
  upload_id: string;
  holder: string;
  expires_at: number | string;
  release_requested: boolean | number;
  acquired_at: number | string;
};

type Held = { holder: string; release: () => void };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    let timer: NodeJS.Timeout | undefined = undefined;
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** One request's hold on one upload. @internal */
export class DatabaseLock implements Lock {
  readonly holder: string;
  private timer?: NodeJS.Timeout;
  private acquired = false;
  private abandoned = false;

  constructor(
    private readonly locker: DatabaseLocker,
    private readonly uploadId: string,
  ) {
    this.holder = locker.newHolder();
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease) {
    if (this.acquired) {
      throw new Error(`Lock of upload ${this.uploadId} already taken`);
    }
    const { acquireTimeoutMs, heartbeatMs, leaseMs } = this.locker.settings;
    const deadline = Date.now() + acquireTimeoutMs;
    let asked: string | undefined;
    for (;;) {
      if (signal.aborted) {
        throw ERR_UPLOAD_LOCKED;
      }
      const current = await this.locker.tryAcquire(this.uploadId, this.holder);
      if (current === this.holder) {
        break;
      }
      if (current && current !== asked) {
        asked = current;
        await this.locker.requestRelease(this.uploadId, current);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw ERR_UPLOAD_LOCKED;
      }
      await sleep(Math.min(heartbeatMs, WAIT_POLL_MS, left), signal);
    }
    this.acquired = true;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        Promise.resolve()
          .then(requestRelease)
          .catch(() => {});
      }
    };
    this.locker.track(this, this.uploadId, { holder: this.holder, release });
    // the lease is confirmed up to `confirmed + leaseMs`; a holder that
    // cannot renew it for half a lease ends its request on its own, before
    // another instance may take the lock over
    let confirmed = Date.now();
    const beat = async () => {
      const started = Date.now();
      try {
        const state = await this.locker.renew(this.uploadId, this.holder);
        if (state.releaseRequested) {
          release();
        }
        if (!state.held) {
          return; // taken over: nothing more to renew
        }
        confirmed = started;
      } catch {
        // the database is unreachable: try again while the lease lasts
      }
      if (Date.now() - confirmed > leaseMs / 2) {
        release();
      }
      if (this.acquired && !this.abandoned) {
        this.timer = setTimeout(beat, heartbeatMs);
        this.timer.unref?.();
      }
    };
    this.timer = setTimeout(beat, heartbeatMs);
    this.timer.unref?.();
  }

  async unlock() {
    if (!this.acquired) {
      return;
    }
    this.acquired = false;
    clearTimeout(this.timer);
    this.locker.track(this, this.uploadId);
    if (this.abandoned) {
      return;
    }
    // a failure leaves the row to its lease
    await this.locker.release(this.uploadId, this.holder).catch(() => {});
  }

  /** Stops the heartbeat and forgets the lock without releasing it. */
  abandon() {
    this.abandoned = true;
    clearTimeout(this.timer);
    this.locker.track(this, this.uploadId);
  }
}

/**
 * The tus `Locker` of uploads, shared by all backend instances through the
 * `upload_locks` table (its owner): one row per locked upload naming the
 * holding request, with a lease its holder renews every `heartbeatMs`.
 *
 * - Acquire: take the row when there is none or its lease ran out (a holder
 *   that died, e.g. SIGKILL, loses it after `leaseMs`); otherwise ask the
 *   holder to let go (tus: a newer request for an upload ends the older
 *   one, which keeps what it wrote) and try again (every 250 ms), up to
 *   `acquireTimeoutMs`, then 423.
 * - The holder's heartbeat renews the lease and reads `release_requested`;
 *   a request on this instance asks a holder on this instance directly. A
 *   holder whose row was taken over (it stalled past its lease) is asked to
 *   end its request as well, and so is one that could not renew its lease
 *   for half a lease (the database unreachable): it stops writing before
 *   another instance may take over.
 * - Unlock deletes the row if this request still holds it.
 *
 * Times are the instances' clocks (epoch ms): keep them in sync (NTP) well
 * within the lease. Works on PostgreSQL (several instances) and SQLite.
 *
 * @internal
 */
export class DatabaseLocker implements Locker {
  /** This process, in the names of its lock holders. */
  readonly instanceId: string;
  readonly settings: UploadLockSettings;
  private readonly held = new Map<string, Held>();
  private readonly heartbeats = new Set<DatabaseLock>();

  constructor(
    private readonly db: Knex,
    options: {
      settings?: Partial<UploadLockSettings>;
      instanceId?: string;
    } = {},
  ) {
    this.settings = { ...DEFAULT_LOCK_SETTINGS, ...options.settings };
    this.instanceId =
      options.instanceId ??
      `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  newLock(id: string): Lock {
    return new DatabaseLock(this, id);
  }

  /** A new holder name: this instance and a random part. */
  newHolder(): string {
    return `${this.instanceId}/${randomBytes(8).toString('hex')}`;
  }

  /**
   * Takes the lock of `uploadId` for `holder` if it is free or its lease
   * ran out; returns the holder after the attempt.
   */
  async tryAcquire(uploadId: string, holder: string): Promise<string> {
    const now = Date.now();
    const fields = {
      holder,
      expires_at: now + this.settings.leaseMs,
      release_requested: false,
      acquired_at: now,
    };
    const tookOver = await this.db<Row>(TABLE)
      .where({ upload_id: uploadId })
      .andWhere('expires_at', '<', now)
      .update(fields);
    if (!tookOver) {
      await this.db<Row>(TABLE)
        .insert({ upload_id: uploadId, ...fields })
        .onConflict('upload_id')
        .ignore();
    }
    const row = await this.db<Row>(TABLE)
      .where({ upload_id: uploadId })
      .first('holder');
    return row?.holder ?? '';
  }

  /**
   * Renews the lease of `holder`; `held: false` when the lock is no longer
   * its own (taken over after the lease ran out).
   */
  async renew(
    uploadId: string,
    holder: string,
  ): Promise<{ held: boolean; releaseRequested: boolean }> {
    const renewed = await this.db<Row>(TABLE)
      .where({ upload_id: uploadId, holder })
      .update({ expires_at: Date.now() + this.settings.leaseMs });
    if (!renewed) {
      return { held: false, releaseRequested: true };
    }
    const row = await this.db<Row>(TABLE)
      .where({ upload_id: uploadId, holder })
      .first('release_requested');
    return {
      held: Boolean(row),
      releaseRequested: !row || Boolean(row.release_requested),
    };
  }

  /** Asks `holder` to end its request on the upload, here or elsewhere. */
  async requestRelease(uploadId: string, holder: string): Promise<void> {
    const local = this.held.get(uploadId);
    if (local?.holder === holder) {
      local.release();
    }
    await this.db<Row>(TABLE)
      .where({ upload_id: uploadId, holder })
      .update({ release_requested: true });
  }

  /** Deletes the lock row if `holder` still holds it. */
  async release(uploadId: string, holder: string): Promise<void> {
    await this.db<Row>(TABLE).where({ upload_id: uploadId, holder }).delete();
  }

  /** Deletes lock rows whose lease ran out before `before` (dead holders). */
  async prune(before: Date): Promise<number> {
    return await this.db<Row>(TABLE)
      .where('expires_at', '<', before.getTime())
      .delete();
  }

  /** The lock row of an upload, if any (for tests and diagnostics). */
  async current(uploadId: string) {
    const row = await this.db<Row>(TABLE)
      .where({ upload_id: uploadId })
      .first();
    return row
      ? {
          holder: row.holder,
          expiresAt: Number(row.expires_at),
          releaseRequested: Boolean(row.release_requested),
        }
      : undefined;
  }

  /** @internal */
  track(lock: DatabaseLock, uploadId: string, held?: Held) {
    if (held) {
      this.held.set(uploadId, held);
      this.heartbeats.add(lock);
    } else {
      if (this.held.get(uploadId)?.holder === lock.holder) {
        this.held.delete(uploadId);
      }
      this.heartbeats.delete(lock);
    }
  }

  /**
   * Stops every heartbeat of this instance without releasing its locks:
   * what a killed process leaves behind (the leases run out). For tests
   * and for a process that is about to exit without finishing its requests.
   */
  abandonAll() {
    for (const lock of [...this.heartbeats]) {
      lock.abandon();
    }
  }
}
