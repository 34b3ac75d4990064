import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { JobQueue } from './JobQueue';
import { JobWorker, RetryableJobError } from './JobWorker';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe.each(databases.eachSupportedId())('JobQueue (%s)', id => {
  async function setup() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    return { knex, store, a: new JobQueue(knex, 'a'), b: new JobQueue(knex, 'b') };
  }

  it('hands every job to exactly one of several concurrent claimers', async () => {
    const { a, b, knex } = await setup();
    for (let i = 0; i < 20; i++) {
      await a.enqueue({ type: 't', params: { i }, createdBy: 'test' });
    }
    const claimed: string[] = [];
    await Promise.all(
      [a, b, a, b].map(async q => {
        for (;;) {
          const job = await q.claim({ types: ['t'], leaseMs: 60_000 });
          if (!job) return;
          claimed.push(job.id);
          expect(await q.complete(job)).toBe(true);
        }
      }),
    );
    expect(claimed).toHaveLength(20);
    expect(new Set(claimed).size).toBe(20);
    const rows = await knex('jobs').select('state', 'attempts');
    expect(rows.every(r => r.state === 'succeeded' && Number(r.attempts) === 1)).toBe(true);
  });

  it('lets another worker take over a job whose lease expired, fencing the first', async () => {
    const { a, b } = await setup();
    await a.enqueue({ type: 't', createdBy: 'test' });
    const first = (await a.claim({ types: ['t'], leaseMs: 100 }))!;
    expect(first.attempts).toBe(1);
    await expect(b.claim({ types: ['t'], leaseMs: 100 })).resolves.toBeUndefined();
    await sleep(150);
    const second = (await b.claim({ types: ['t'], leaseMs: 60_000 }))!;
    expect(second).toMatchObject({ id: first.id, attempts: 2, leasedBy: 'b' });
    // the first worker lost its lease: it can neither renew nor finish
    await expect(a.heartbeat(first, { leaseMs: 1000 })).resolves.toBe(false);
    await expect(a.complete(first)).resolves.toBe(false);
    await expect(b.complete(second)).resolves.toBe(true);
  });

  it('fails a job whose leases expired more often than its attempts', async () => {
    const { a, knex } = await setup();
    const jobId = await a.enqueue({ type: 't', maxAttempts: 1, createdBy: 'test' });
    await a.claim({ types: ['t'], leaseMs: 10 });
    await sleep(50);
    await expect(a.claim({ types: ['t'], leaseMs: 10 })).resolves.toBeUndefined();
    const row = await knex('jobs').where({ id: jobId }).first();
    expect(row.state).toBe('failed');
    expect(row.error).toBe('Gave up after 1 attempts whose leases expired');
  });

  it('backs off retryable failures and gives up after max attempts', async () => {
    const { a, knex } = await setup();
    const jobId = await a.enqueue({ type: 't', maxAttempts: 2, createdBy: 'test' });
    const first = (await a.claim({ types: ['t'], leaseMs: 60_000 }))!;
    await expect(
      a.fail(first, { error: 'busy', retryable: true, retryAfterMs: 200 }),
    ).resolves.toBe('queued');
    await expect(a.claim({ types: ['t'], leaseMs: 60_000 })).resolves.toBeUndefined();
    await sleep(250);
    const second = (await a.claim({ types: ['t'], leaseMs: 60_000 }))!;
    expect(second.attempts).toBe(2);
    await expect(a.fail(second, { error: 'busy again', retryable: true })).resolves.toBe(
      'failed',
    );
    const row = await knex('jobs').where({ id: jobId }).first();
    expect(row).toMatchObject({ state: 'failed', error: 'busy again' });
  });

  it('runs jobs with a worker: progress, logs, retries and cancellation', async () => {
    const { a, store } = await setup();
    let calls = 0;
    const publish = jest.fn(async () => {});
    const worker = new JobWorker({
      queue: a,
      signals: { publish },
      logger: mockServices.logger.mock(),
      concurrency: 2,
      leaseMs: 300,
      pollIntervalMs: 20,
      executors: {
        ok: async ctx => {
          ctx.progress({ bytes: 10 });
          // URLs in job logs lose their credentials
          await ctx.log('info', 'working on https://u:pw@hub.example.com/x?token=abc');
        },
        flaky: async () => {
          calls += 1;
          if (calls === 1) throw new RetryableJobError('429', 10);
        },
        broken: async () => {
          throw new Error('sha256 mismatch for https://hub.example.com/f?X-Amz-Signature=s1');
        },
        slow: async ctx => {
          await new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
          );
        },
      },
    });
    const ok = await a.enqueue({ type: 'ok', createdBy: 'test' });
    const flaky = await a.enqueue({ type: 'flaky', createdBy: 'test' });
    const broken = await a.enqueue({ type: 'broken', createdBy: 'test' });
    const slow = await a.enqueue({ type: 'slow', createdBy: 'test' });
    worker.start();
    const until = async (fn: () => Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await fn()); i++) await sleep(25);
    };
    await until(async () => (await store.getJob({ id: slow }))?.state === 'running');
    await store.cancelJob({ id: slow, actor: 'user:default/alice' });
    await until(async () => {
      const states = await Promise.all(
        [ok, flaky, broken].map(async j => (await store.getJob({ id: j }))!.state),
      );
      return states.every(s => s === 'succeeded' || s === 'failed');
    });
    await sleep(400); // a heartbeat notices the cancel
    await worker.stop();

    await expect(store.getJob({ id: ok })).resolves.toMatchObject({
      state: 'succeeded',
      progress: { bytes: 10 },
    });
    expect((await store.listJobLogs({ jobId: ok, limit: 10 })).map(l => l.message)).toEqual(
      ['Attempt 1 of 5 on a', 'working on https://***@hub.example.com/x?token=***', 'Succeeded'],
    );
    await expect(store.getJob({ id: flaky })).resolves.toMatchObject({
      state: 'succeeded',
      attempts: 2,
    });
    await expect(store.getJob({ id: broken })).resolves.toMatchObject({
      state: 'failed',
      error: 'sha256 mismatch for https://hub.example.com/f?X-Amz-Signature=***',
      attempts: 1,
    });
    await expect(store.getJob({ id: slow })).resolves.toMatchObject({
      state: 'cancelled',
    });
    // live progress through the job signals (to the model's readers:
    // jobSignals.test.ts)
    expect(publish).toHaveBeenCalledWith(
      expect.objectContaining({ id: ok, type: 'ok' }),
      'succeeded',
      { bytes: 10 },
    );
  });
});
