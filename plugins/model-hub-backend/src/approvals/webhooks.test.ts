import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { WebhookTarget } from './config';
import { DatabaseApprovalsStore } from './DatabaseApprovalsStore';
import {
  SIGNATURE_HEADER,
  signWebhookBody,
  WebhookDispatcher,
} from './webhooks';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe('WebhookDispatcher.resumeStale', () => {
  let server: Server;
  let url: string;
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        received.push({
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    await new Promise(resolve => server.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  async function setup(id: TestDatabaseId) {
    const knex = await databases.init(id);
    const database = mockServices.database({
      knex,
      migrations: { skip: false },
    });
    await DatabaseModelHubStore.create({ database });
    const store = await DatabaseApprovalsStore.create({
      database,
      skipMigrations: true,
    });
    const target: WebhookTarget = {
      url,
      secret: 's3cret',
      events: [],
      maxAttempts: 3,
      initialBackoffMs: 10,
      timeoutMs: 1000,
    };
    const dispatcher = (targets: WebhookTarget[] = [target]) =>
      new WebhookDispatcher({
        store,
        targets,
        logger: mockServices.logger.mock(),
      });
    /** A delivery its process left after `attempts` failed attempts. */
    const leftBehind = async (
      deliveryId: string,
      attempts: number,
      ageMs: number,
      deliveryUrl = url,
    ) => {
      await store.createDelivery({
        id: deliveryId,
        event: 'version.approved',
        url: deliveryUrl,
        modelRef: 'model:default/m',
        versionLabel: 'v1',
        payload: { id: deliveryId, event: 'version.approved', n: 1 },
      });
      await store.updateDelivery({
        id: deliveryId,
        status: 'pending',
        attempts,
        responseStatus: 503,
        error: 'HTTP 503',
      });
      await knex('webhook_deliveries')
        .where({ id: deliveryId })
        .update({ updated_at: new Date(Date.now() - ageMs) });
    };
    const row = (deliveryId: string) =>
      knex('webhook_deliveries').where({ id: deliveryId }).first();
    return { knex, store, target, dispatcher, leftBehind, row };
  }

  it.each(databases.eachSupportedId())(
    'goes on with a delivery a stopped process left, once, with the same body and signature (%s)',
    async id => {
      const { dispatcher, leftBehind, row } = await setup(id);
      await leftBehind('d-stale', 1, 10 * 60_000);
      await leftBehind('d-fresh', 1, 1000); // its process may still retry it

      // two instances look at the same time: one claims it
      const a = dispatcher();
      const b = dispatcher();
      const [na, nb] = await Promise.all([a.resumeStale(), b.resumeStale()]);
      expect(na + nb).toBe(1);
      await Promise.all([a.whenIdle(), b.whenIdle()]);

      expect(received).toHaveLength(1);
      const body = JSON.stringify({
        id: 'd-stale',
        event: 'version.approved',
        n: 1,
      });
      expect(received[0].body).toBe(body);
      expect(received[0].headers['x-model-hub-delivery']).toBe('d-stale');
      expect(received[0].headers[SIGNATURE_HEADER.toLowerCase()]).toBe(
        signWebhookBody('s3cret', body),
      );
      expect(await row('d-stale')).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        response_status: 204,
      });
      expect(await row('d-fresh')).toMatchObject({
        status: 'pending',
        attempts: 1,
      });
      // nothing left to claim
      expect(await a.resumeStale()).toBe(0);
    },
  );

  it.each(databases.eachSupportedId())(
    'fails deliveries whose target is gone or whose attempts are used up (%s)',
    async id => {
      const { dispatcher, leftBehind, row } = await setup(id);
      await leftBehind('d-gone', 1, 10 * 60_000, 'http://127.0.0.1:1/old');
      await leftBehind('d-spent', 3, 10 * 60_000);
      expect(await dispatcher().resumeStale()).toBe(2);
      expect(received).toHaveLength(0);
      expect(await row('d-gone')).toMatchObject({
        status: 'failed',
        error: 'The webhook target is no longer configured',
      });
      expect(await row('d-spent')).toMatchObject({
        status: 'failed',
        attempts: 3,
        error: 'Gave up after 3 attempts (the process retrying it stopped)',
      });
    },
  );

  it('never logs the credentials or the path of a webhook target', async () => {
    const { store, target, leftBehind, row } = await setup('SQLITE_3');
    const secretUrl =
      'http://hook:pw@127.0.0.1:1/services/T0/B0/SECRETPATH?token=abc';
    await leftBehind('d-secret', 2, 10 * 60_000, secretUrl);
    const logger = mockServices.logger.mock();
    const dispatcher = new WebhookDispatcher({
      store,
      targets: [{ ...target, url: secretUrl, maxAttempts: 3 }],
      logger,
    });
    // resumed, its last attempt fails: nothing listens on port 1
    expect(await dispatcher.resumeStale()).toBe(1);
    await dispatcher.whenIdle();
    expect(await row('d-secret')).toMatchObject({ status: 'failed' });
    const logged = JSON.stringify([
      ...logger.info.mock.calls,
      ...logger.warn.mock.calls,
      ...logger.error.mock.calls,
    ]);
    expect(logged).toContain('http://***@127.0.0.1:1/***');
    for (const secret of ['SECRETPATH', 'token=abc', 'hook:pw', 'pw@']) {
      expect(logged).not.toContain(secret);
    }
    expect((await row('d-secret')).error).not.toContain('SECRETPATH');
  });

  it('waits twice the longest retry cycle, at least a minute', () => {
    const logger = mockServices.logger.mock();
    const store = {} as any;
    const base = { url, events: [], secret: undefined };
    expect(
      new WebhookDispatcher({
        store,
        logger,
        targets: [
          {
            ...base,
            maxAttempts: 5,
            initialBackoffMs: 10_000,
            timeoutMs: 10_000,
          },
        ],
      }).staleAfterMs(),
    ).toBe(2 * (10_000 + 10_000 * 16));
    expect(
      new WebhookDispatcher({ store, logger, targets: [] }).staleAfterMs(),
    ).toBe(60_000);
  });
});
