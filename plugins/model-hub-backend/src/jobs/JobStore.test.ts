import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { JobQueue } from './JobQueue';
import { DEFAULT_MAX_ATTEMPTS, JobStore } from './JobStore';
import { JobWorker } from './JobWorker';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

const logger: any = {
  info: () => {},
  debug: () => {},
  warn: () => {},
  error: () => {},
  child: () => logger,
};

describe.each(databases.eachSupportedId())('JobStore (%s)', id => {
  async function setup() {
    const knex = await databases.init(id);
    const store = await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
    return { knex, store, queue: new JobQueue(knex, 'w') };
  }

  const until = async (fn: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await fn()); i++) await sleep(10);
  };

  it('queues jobs with one retry budget, through the REST store and the queue alike', async () => {
    const { store, queue } = await setup();
    const rest = await store.createJob({
      type: 't',
      createdBy: 'user:default/a',
    });
    const queued = await queue.enqueue({ type: 't', createdBy: 'test' });
    expect(rest.maxAttempts).toBe(DEFAULT_MAX_ATTEMPTS);
    expect((await store.getJob({ id: queued }))?.maxAttempts).toBe(
      DEFAULT_MAX_ATTEMPTS,
    );
  });

  it('wakes an idle worker when a job is queued through the REST store', async () => {
    const { store, queue } = await setup();
    const ran: string[] = [];
    const worker = new JobWorker({
      queue,
      logger,
      executors: { t: async ctx => void ran.push(ctx.job.id) },
      concurrency: 1,
      // far longer than the test waits: only a wake-up runs the job
      pollIntervalMs: 60_000,
    });
    worker.start();
    await sleep(200); // the worker found nothing and sleeps
    const job = await store.createJob({
      type: 't',
      createdBy: 'user:default/a',
    });
    await until(
      async () => (await store.getJob({ id: job.id }))?.state === 'succeeded',
    );
    await worker.stop();
    expect(ran).toEqual([job.id]);
  });

  it('gives a retried job a fresh budget; the workers of its old attempts stay fenced', async () => {
    const { store, queue } = await setup();
    const jobId = await queue.enqueue({
      type: 't',
      maxAttempts: 1,
      createdBy: 'test',
    });
    const first = (await queue.claim({ types: ['t'], leaseMs: 60_000 }))!;
    await expect(
      queue.fail(first, { error: 'boom', retryable: true }),
    ).resolves.toBe('failed');
    const retried = await store.retryJob({
      id: jobId,
      actor: 'user:default/a',
    });
    expect(retried).toMatchObject({
      state: 'queued',
      attempts: 1,
      maxAttempts: 1 + DEFAULT_MAX_ATTEMPTS,
    });
    const second = (await queue.claim({ types: ['t'], leaseMs: 60_000 }))!;
    expect(second).toMatchObject({ id: jobId, attempts: 2 });
    await expect(queue.complete(first)).resolves.toBe(false);
    await expect(queue.complete(second)).resolves.toBe(true);
  });

  it("queues a job in the caller's transaction and wakes the workers after its commit", async () => {
    const { knex, store, queue } = await setup();
    let woke = 0;
    const off = JobStore.onEnqueue(() => {
      woke += 1;
    });
    try {
      let jobId = '';
      await knex.transaction(async trx => {
        jobId = await queue.enqueue({ type: 't', createdBy: 'test' }, trx);
        expect(woke).toBe(0);
      });
      await sleep(20);
      expect(woke).toBe(1);
      expect((await store.getJob({ id: jobId }))?.state).toBe('queued');
      await expect(
        knex.transaction(async trx => {
          await queue.enqueue({ type: 'gone', createdBy: 'test' }, trx);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await sleep(20);
      expect(woke).toBe(1);
      expect(
        (await store.listJobs({ offset: 0, limit: 10, type: 'gone' }))
          .totalCount,
      ).toBe(0);
    } finally {
      off();
    }
  });
});
