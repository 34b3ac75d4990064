import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import {
  MirrorHarness,
  startMirrorHarness,
} from './__testUtils__/mirrorHarness';

jest.setTimeout(60_000);

const mockDir = createMockDirectory();
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const ALICE = 'user:default/alice';
const WEIGHTS = Buffer.from('0123456789abcdefghij');

describe.each(databases.eachSupportedId())(
  'mirror downloads in the history (%s)',
  databaseId => {
    let h: MirrorHarness;
    let token: string;

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      const artifacts = await LocalArtifactStore.create({
        path: join(mockDir.path, databaseId),
      });
      h = await startMirrorHarness({ knex, artifacts });
      const model = await h.addModel('acme', 'counted');
      const v1 = await h.addVersion(model, 'v1', {
        'model.bin': WEIGHTS,
        'config.json': '{}',
      });
      await h.setState(v1, 'approved');
      const created = await fetch(`${h.baseUrl}/tokens`, {
        method: 'POST',
        headers: {
          Authorization: mockCredentials.user.header(ALICE),
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ name: 'laptop' }),
      });
      token = (await created.json()).token;
    });

    afterAll(async () => {
      await h?.stop();
    });

    async function today() {
      const res = await fetch(`${h.baseUrl}/stats/history?days=1`, {
        headers: { Authorization: mockCredentials.user.header(ALICE) },
      });
      expect(res.status).toBe(200);
      return (await res.json()).items[0];
    }

    it('counts GET resolves from the first byte, not HEAD, 304 or later ranges', async () => {
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${h.hubUrl}/acme/counted/resolve/main/${path}`, {
          headers: { Authorization: `Bearer ${token}`, ...headers },
        });
      const full = await get('model.bin');
      expect(full.status).toBe(200);
      const etag = full.headers.get('etag')!;
      await full.arrayBuffer();
      const first = await get('model.bin', { Range: 'bytes=0-4' });
      expect(first.status).toBe(206);
      await first.arrayBuffer();
      const later = await get('model.bin', { Range: 'bytes=5-9' });
      expect(later.status).toBe(206);
      await later.arrayBuffer();
      const cached = await get('model.bin', { 'If-None-Match': etag });
      expect(cached.status).toBe(304);
      const head = await fetch(
        `${h.hubUrl}/acme/counted/resolve/main/model.bin`,
        { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } },
      );
      expect(head.status).toBe(200);

      // recorded in the background
      let point = await today();
      for (let i = 0; i < 100 && point.downloads < 2; i++) {
        await new Promise(r => setTimeout(r, 20));
        point = await today();
      }
      // nothing else is pending
      await new Promise(r => setTimeout(r, 200));
      expect(await today()).toMatchObject({ downloads: 2, downloadBytes: 40 });
    });
  },
);
