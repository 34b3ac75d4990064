import { TestDatabases } from '@backstage/backend-test-utils';
import createKnex, { Knex } from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { DatabaseLocker, ERR_UPLOAD_LOCKED } from './DatabaseLocker';

// The tus lock shared by backend instances: two lockers on one database are
// two instances.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const SETTINGS = { leaseMs: 1_000, heartbeatMs: 100, acquireTimeoutMs: 3_000 };
const ID = 'a'.repeat(32);

const never = () => new AbortController().signal;

describe.each(databases.eachSupportedId())('DatabaseLocker (%s)', dbId => {
  let knex: Knex;
  let a: DatabaseLocker;
  let b: DatabaseLocker;

  beforeAll(async () => {
    knex = await databases.init(dbId);
    await knex.migrate.latest({
      directory: DatabaseModelHubStore.migrationsDirectory,
    });
  });

  beforeEach(() => {
    a = new DatabaseLocker(knex, { settings: SETTINGS, instanceId: 'a' });
    b = new DatabaseLocker(knex, { settings: SETTINGS, instanceId: 'b' });
  });

  afterEach(() => {
    a.abandonAll();
    b.abandonAll();
  });

  it('locks an upload for one holder, and unlocks it', async () => {
    const lock = a.newLock(ID);
    await lock.lock(never(), () => {});
    const row = await a.current(ID);
    expect(row?.holder).toMatch(/^a\//);
    expect(row?.releaseRequested).toBe(false);
    expect(row!.expiresAt).toBeGreaterThan(Date.now());
    await lock.unlock();
    expect(await a.current(ID)).toBeUndefined();
    // another upload is independent
    const other = b.newLock('b'.repeat(32));
    await other.lock(never(), () => {});
    const again = b.newLock(ID);
    await again.lock(never(), () => {});
    await again.unlock();
    await other.unlock();
  });

  it('asks a holder on another instance to let go, then takes the lock', async () => {
    const first = a.newLock(ID);
    const released = jest.fn();
    await first.lock(never(), async () => {
      released();
      await first.unlock(); // the request ends, keeping what it wrote
    });
    const second = b.newLock(ID);
    const started = Date.now();
    await second.lock(never(), () => {});
    // seen through the row by the holder's heartbeat, not the lease
    expect(released).toHaveBeenCalledTimes(1);
    expect(Date.now() - started).toBeLessThan(SETTINGS.leaseMs);
    expect((await b.current(ID))?.holder).toMatch(/^b\//);
    await second.unlock();
  });

  it('asks a holder on the same instance directly', async () => {
    const first = a.newLock(ID);
    await first.lock(never(), () => first.unlock());
    const second = a.newLock(ID);
    await second.lock(never(), () => {});
    expect((await a.current(ID))?.holder).toBe((second as any).holder);
    await second.unlock();
  });

  it('keeps the lock of a live holder past its lease; a waiter times out with 423', async () => {
    const holder = a.newLock(ID);
    const released = jest.fn(); // a holder that is finishing: it does not let go
    await holder.lock(never(), released);
    const waiter = b.newLock(ID);
    const started = Date.now();
    await expect(waiter.lock(never(), () => {})).rejects.toBe(
      ERR_UPLOAD_LOCKED,
    );
    expect(ERR_UPLOAD_LOCKED.status_code).toBe(423);
    const waited = Date.now() - started;
    // three leases long: renewed by the heartbeat
    expect(waited).toBeGreaterThanOrEqual(SETTINGS.acquireTimeoutMs - 50);
    expect(waited).toBeLessThan(SETTINGS.acquireTimeoutMs + 1_000);
    expect(released).toHaveBeenCalledTimes(1);
    expect((await a.current(ID))?.holder).toBe((holder as any).holder);
    expect((await a.current(ID))?.releaseRequested).toBe(true);
    await holder.unlock();
    // the waiter that gave up left nothing behind
    expect(await a.current(ID)).toBeUndefined();
  });

  it('gives the lock of a holder that died to another instance after the lease', async () => {
    const dead = a.newLock(ID);
    await dead.lock(never(), () => {});
    const acquiredAt = Date.now();
    a.abandonAll(); // SIGKILL: no heartbeat, no unlock
    const next = b.newLock(ID);
    await next.lock(never(), () => {});
    expect(Date.now() - acquiredAt).toBeGreaterThanOrEqual(
      SETTINGS.leaseMs - 50,
    );
    expect((await b.current(ID))?.holder).toMatch(/^b\//);
    // the dead holder's late unlock does not free the new holder's lock
    await a.release(ID, (dead as any).holder);
    expect((await b.current(ID))?.holder).toMatch(/^b\//);
    await next.unlock();
  });

  it('asks a holder that lost its lock to end its request', async () => {
    const stalled = a.newLock(ID);
    const released = jest.fn();
    await stalled.lock(never(), released);
    // another instance took the row over (the holder stalled past its
    // lease): the holder's next heartbeat finds it gone
    await b.release(ID, (stalled as any).holder);
    const next = b.newLock(ID);
    await next.lock(never(), () => {});
    await new Promise(r => setTimeout(r, SETTINGS.heartbeatMs * 3));
    expect(released).toHaveBeenCalled();
    await stalled.unlock();
    expect((await b.current(ID))?.holder).toBe((next as any).holder);
    await next.unlock();
  });

  it('ends the request of a holder that cannot reach the database for half a lease', async () => {
    // a second connection pool on the same database, that goes away (on
    // SQLite, in memory, a pool of its own is a database of its own)
    const own =
      dbId === 'POSTGRES_15'
        ? createKnex(knex.client.config as Knex.Config)
        : knex;
    const cut = new DatabaseLocker(own, {
      settings: SETTINGS,
      instanceId: 'cut',
    });
    const holder = cut.newLock(ID);
    const released = jest.fn();
    await holder.lock(never(), released);
    if (own === knex) {
      // same pool: take its row away instead (a lost lock)
      await a.release(ID, (holder as any).holder);
    } else {
      await own.destroy();
    }
    const lostAt = Date.now();
    while (!released.mock.calls.length && Date.now() - lostAt < 2_000) {
      await new Promise(r => setTimeout(r, 20));
    }
    expect(released).toHaveBeenCalled();
    // before the lease ran out for the other instances
    expect(Date.now() - lostAt).toBeLessThan(SETTINGS.leaseMs);
    cut.abandonAll();
    const next = b.newLock(ID);
    await next.lock(never(), () => {});
    await next.unlock();
  });

  it('stops waiting when the request is aborted', async () => {
    const holder = a.newLock(ID);
    await holder.lock(never(), () => {});
    const abort = new AbortController();
    const waiting = b.newLock(ID).lock(abort.signal, () => {});
    setTimeout(() => abort.abort(), 200);
    await expect(waiting).rejects.toBe(ERR_UPLOAD_LOCKED);
    await holder.unlock();
  });

  it('prunes the rows of dead holders', async () => {
    const dead = a.newLock(ID);
    await dead.lock(never(), () => {});
    a.abandonAll();
    expect(await a.prune(new Date())).toBe(0);
    expect(await a.prune(new Date(Date.now() + 2 * SETTINGS.leaseMs))).toBe(1);
    expect(await a.current(ID)).toBeUndefined();
  });
});
