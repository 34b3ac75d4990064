import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { EntityProviderConnection } from '@backstage/plugin-catalog-node';
import {
  ModelHubEntityProvider,
  ModelHubFeedItem,
} from './ModelHubEntityProvider';
import { ProviderCursorStore } from './ProviderCursorStore';

// Issue 17: the delta cursor lives in the database. Two provider instances
// (two backend instances, or one before and one after a restart) share one
// database and take turns running the tasks, as the scheduler hands them
// out: every change reaches the catalog once, none is skipped.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** A fake hub entity feed with a clock of its own. */
function createFeed() {
  const models = new Map<string, string>(); // name -> updatedAt
  const tombstones = new Map<string, string>(); // entityRef -> deletedAt
  const state = { now: at(0), requests: [] as Record<string, string>[] };
  const item = (name: string): ModelHubFeedItem => ({
    entityRef: `model:default/${name}`,
    namespace: 'default',
    name,
    type: 'llm',
    lifecycle: 'experimental',
    owner: 'group:default/ml-team',
    sourceType: 'upload',
    source: 'upload',
    tags: [],
    updatedAt: models.get(name)!,
  });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    state.requests.push(query);
    const since = query.since ? Date.parse(query.since) : undefined;
    const items = [...models.keys()]
      .filter(n => since === undefined || Date.parse(models.get(n)!) >= since)
      .map(item);
    const removed =
      since === undefined
        ? []
        : [...tombstones]
            .filter(([, t]) => Date.parse(t) >= since)
            .map(([r]) => r);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ items, removed, now: state.now }));
  });
  return {
    state,
    upsert: (name: string, seconds: number) => models.set(name, at(seconds)),
    remove: (name: string, seconds: number) => {
      models.delete(name);
      tombstones.set(`model:default/${name}`, at(seconds));
    },
    async start() {
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>(r => server.close(() => r())),
  };
}

describe.each(databases.eachSupportedId())(
  'ModelHubEntityProvider cursor (%s)',
  id => {
    let feed: ReturnType<typeof createFeed>;
    let baseUrl: string;

    beforeEach(async () => {
      feed = createFeed();
      baseUrl = await feed.start();
    });

    afterEach(async () => {
      await feed.close();
    });

    /** One backend instance: its provider, its scheduled tasks, its mutations. */
    async function startInstance(
      database: ReturnType<typeof mockServices.database>,
    ) {
      const tasks = new Map<string, () => Promise<void>>();
      const [provider] = ModelHubEntityProvider.fromConfig(
        new ConfigReader({}),
        {
          logger: mockServices.logger.mock(),
          auth: mockServices.auth(),
          discovery: {
            getBaseUrl: async () => baseUrl,
            getExternalBaseUrl: async () =>
              'http://hub.example.com/api/model-hub',
          },
          scheduler: {
            createScheduledTaskRunner: () => ({
              run: async (task: { id: string; fn: () => Promise<void> }) => {
                tasks.set(task.id.split(':').pop()!, task.fn);
              },
            }),
          } as any,
          database,
        },
      );
      const applyMutation = jest.fn();
      await provider.connect({
        applyMutation,
        refresh: jest.fn(),
      } as unknown as EntityProviderConnection);
      /** What the task ran emitted: names added, refs removed. */
      const run = async (task: 'refresh' | 'delta') => {
        applyMutation.mockClear();
        await tasks.get(task)!();
        return applyMutation.mock.calls.map(([m]) =>
          m.type === 'full'
            ? { full: m.entities.map((e: any) => e.entity.metadata.name) }
            : {
                added: m.added.map((e: any) => e.entity.metadata.name),
                removed: m.removed.map((r: any) => r.entityRef),
              },
        );
      };
      return { provider, run };
    }

    it('continues from the stored cursor on any instance, and after a restart', async () => {
      const knex = await databases.init(id);
      const database = () =>
        mockServices.database({ knex, migrations: { skip: false } });
      const a = await startInstance(database());
      const b = await startInstance(database());

      feed.upsert('first', -3600);
      // no full refresh yet, on any instance: a delta waits for it
      expect(await b.run('delta')).toEqual([]);
      expect(feed.state.requests).toEqual([]);

      feed.state.now = at(0);
      expect(await a.run('refresh')).toEqual([{ full: ['first'] }]);

      // a model arrives; instance b (which never ran the full refresh) polls
      feed.upsert('second', 60);
      feed.state.now = at(120);
      expect(await b.run('delta')).toEqual([
        { added: ['second'], removed: [] },
      ]);
      // it asked from a's refresh on (minus the 5 s overlap)
      expect(feed.state.requests.pop()).toMatchObject({ since: at(-5) });

      // a change and a deletion; instance a polls: only what b has not seen
      feed.upsert('third', 180);
      feed.remove('first', 190);
      feed.state.now = at(240);
      expect(await a.run('delta')).toEqual([
        { added: ['third'], removed: ['model:default/first'] },
      ]);
      expect(feed.state.requests.pop()).toMatchObject({ since: at(115) });

      // nothing new: no mutation on either
      feed.state.now = at(300);
      expect(await b.run('delta')).toEqual([]);
      expect(feed.state.requests.pop()).toMatchObject({ since: at(235) });

      // a restart: a new provider on the same database continues from there
      const restarted = await startInstance(database());
      feed.upsert('fourth', 330);
      feed.state.now = at(360);
      expect(await restarted.run('delta')).toEqual([
        { added: ['fourth'], removed: [] },
      ]);
      expect(feed.state.requests.pop()).toMatchObject({ since: at(295) });
      await expect(
        new ProviderCursorStore(database()).get('model-hub-provider:default'),
      ).resolves.toBe(at(360));
    });

    it('keeps the start of a full refresh that ran alongside a delta', async () => {
      const knex = await databases.init(id);
      const cursors = new ProviderCursorStore(
        mockServices.database({ knex, migrations: { skip: false } }),
      );
      const name = 'model-hub-provider:default';
      await expect(cursors.get(name)).resolves.toBeUndefined();
      await cursors.set(name, at(0));
      // a delta that read at(0) stores its end
      await expect(
        cursors.set(name, at(60), { expected: at(0) }),
      ).resolves.toBe(true);
      // a full refresh that started at(30) sets its start (a step back: its
      // snapshot replaced what the delta emitted)
      await cursors.set(name, at(30));
      // a delta that read at(60) before the refresh stored does not overwrite
      await expect(
        cursors.set(name, at(90), { expected: at(60) }),
      ).resolves.toBe(false);
      await expect(cursors.get(name)).resolves.toBe(at(30));
      // another provider has a cursor of its own
      await expect(
        cursors.get('model-hub-provider:other'),
      ).resolves.toBeUndefined();
    });
  },
);
