import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockCredentials, TestDatabases } from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { mockServices } from '@backstage/backend-test-utils';
import { createHubEnv } from '../huggingface/__testUtils__/hubEnv';
import { setupHuggingFace } from '../huggingface/setup';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { makeSafetensors } from '../inspection/__testUtils__/generators';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { createUploadRoutes } from '../uploads/routes';
import { readUploadsConfig } from '../uploads/config';
import { HubVersion } from '../database/types';
import { ConfigReader } from '@backstage/config';
import { readOnDemandFetch } from './onDemandConfig';
import {
  MirrorHarness,
  startMirrorHarness,
} from './__testUtils__/mirrorHarness';

jest.setTimeout(180_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const ALICE = 'user:default/alice';
const MiB = 1024 * 1024;
/** The mock Hub paces every response body to this rate (per connection). */
const RATE = 8 * MiB;
const SIZE = 16 * MiB;
const CLIENTS = 8;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A GET of the mirror, timed: status, headers, body and first-byte time. */
async function timedGet(url: string, headers: Record<string, string> = {}) {
  const t0 = performance.now();
  const res = await fetch(url, {
    headers: { Authorization: mockCredentials.user.header(ALICE), ...headers },
  });
  const chunks: Buffer[] = [];
  let firstByteMs: number | undefined;
  let error: unknown;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      firstByteMs ??= performance.now() - t0;
      chunks.push(Buffer.from(chunk));
    }
  } catch (e) {
    error = e;
  }
  const body = Buffer.concat(chunks);
  return {
    status: res.status,
    headers: res.headers,
    body,
    error,
    firstByteMs,
    doneMs: performance.now() - t0,
    /** The body is as long as the response announced. */
    complete:
      !error && body.length === Number(res.headers.get('content-length')),
  };
}

describe.each(databases.eachSupportedId())(
  'on-demand fetch through the mirror on %p',
  databaseId => {
    let hub: MockHub;
    let upstream: MockHfServer;
    let h: MirrorHarness;
    let env: Awaited<ReturnType<typeof createHubEnv>>;

    /** Registers and syncs a Hub repo, optionally approving its version. */
    async function mirrored(repoId: string, approve = true) {
      await env.sync.register({
        repoId,
        revision: 'main',
        owner: 'group:default/ml',
        createdBy: ALICE,
      });
      const { versionId } = await env.sync.syncRepo({ repoId });
      if (approve) {
        await h.setState({ id: versionId } as HubVersion, 'approved');
      }
      return versionId;
    }

    const fileUrl = (repoId: string, path: string) =>
      `${h.hubUrl}/${repoId}/resolve/main/${path}`;

    const upstreamGets = (repoId: string, path: string) =>
      hub.findRequests({ method: 'GET', path: `/${repoId}/resolve/*/${path}` });

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      hub = new MockHub();
      upstream = await createMockHfServer({ hub, rateLimitBytesPerSec: RATE });
      env = await createHubEnv(knex, { endpoint: upstream.url });
      h = await startMirrorHarness({
        knex,
        artifacts: env.artifacts,
        onDemandFetch: {
          fetcher: env.client,
          downloadDir: env.config.downloadDir,
          writeMode: 'buffered',
        },
      });
    });

    afterAll(async () => {
      await h?.stop();
      await upstream?.close();
      env?.cleanup();
    });

    it('shares one upstream fetch between concurrent clients and streams while it runs, ranges included', async () => {
      const repoId = 'acme/shared';
      hub.addRepo({
        id: repoId,
        files: [
          {
            path: 'model.safetensors',
            content: { size: SIZE, seed: 'shared' },
          },
          { path: 'config.json', content: '{"model_type":"gpt2"}' },
        ],
      });
      const content = hub.fileContent(repoId, 'model.safetensors');
      const versionId = await mirrored(repoId);
      const url = fileUrl(repoId, 'model.safetensors');

      // before any GET: the file is listed and HEAD answers without a fetch
      const head = await fetch(url, {
        method: 'HEAD',
        headers: { Authorization: mockCredentials.user.header(ALICE) },
      });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(SIZE));
      expect(head.headers.get('x-linked-etag')).toBe(`"${sha256(content)}"`);
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(0);

      const t0 = performance.now();
      const clients = Array.from({ length: CLIENTS }, () => timedGet(url));
      // a range in the second half, asked for while the fetch runs
      const rangeStart = 10 * MiB;
      const rangeEnd = 11 * MiB - 1;
      const ranged = timedGet(url, {
        Range: `bytes=${rangeStart}-${rangeEnd}`,
      });
      const results = await Promise.all(clients);
      const range = await ranged;
      const allDoneMs = performance.now() - t0;

      // exactly one upstream fetch, counted at the mock Hub
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(1);
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.complete).toBe(true);
        expect(sha256(r.body)).toBe(sha256(content));
        // bytes arrived long before the paced download (2 s) ended
        expect(r.firstByteMs!).toBeLessThan(allDoneMs / 2);
      }
      // the range was served from the partial file, before the end
      expect(range.status).toBe(206);
      expect(range.headers.get('content-range')).toBe(
        `bytes ${rangeStart}-${rangeEnd}/${SIZE}`,
      );
      expect(
        range.body.equals(content.subarray(rangeStart, rangeEnd + 1)),
      ).toBe(true);
      expect(range.doneMs).toBeLessThan(
        Math.min(...results.map(r => r.doneMs)),
      );

      // the verified bytes filled the version: the next request is served
      // from the store, with no upstream request
      const again = await timedGet(url, { Range: 'bytes=100-199' });
      expect(again.status).toBe(206);
      expect(again.body.equals(content.subarray(100, 200))).toBe(true);
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(1);
      // the readers are answered as soon as the bytes are verified; the file
      // row (and its format inspection) is committed right after, so a
      // loaded machine may list it a moment later
      let stored = await env.store.listFiles({ versionId });
      for (let i = 0; i < 100 && stored.length === 0; i++) {
        await new Promise(resolve => setTimeout(resolve, 100));
        stored = await env.store.listFiles({ versionId });
      }
      expect(stored.map(f => [f.path, f.sha256])).toEqual([
        ['model.safetensors', sha256(content)],
      ]);

      // a regular (git) file is fetched on demand too, verified by its git oid
      const config = await timedGet(fileUrl(repoId, 'config.json'));
      expect(config.status).toBe(200);
      expect(config.body.toString()).toBe('{"model_type":"gpt2"}');
    });

    it('fails every waiting client cleanly when the upstream fetch breaks, and the next request retries', async () => {
      const repoId = 'acme/flaky';
      hub.addRepo({
        id: repoId,
        files: [
          { path: 'model.safetensors', content: { size: SIZE, seed: 'flaky' } },
        ],
      });
      const content = hub.fileContent(repoId, 'model.safetensors');
      await mirrored(repoId);
      const url = fileUrl(repoId, 'model.safetensors');
      hub.script({
        match: { method: 'GET', path: `/${repoId}/resolve/*` },
        times: 1,
        fault: { cutAfterBytes: 6 * MiB },
      });

      const broken = await Promise.all(
        Array.from({ length: 4 }, () => timedGet(url)),
      );
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(1);
      for (const r of broken) {
        // headers went out with the full length; the body is cut short of it
        expect(r.status).toBe(200);
        expect(r.headers.get('content-length')).toBe(String(SIZE));
        expect(r.complete).toBe(false);
        expect(r.body.length).toBeLessThan(SIZE);
        expect(r.body.equals(content.subarray(0, r.body.length))).toBe(true);
      }

      // the next request fetches again (resuming the kept bytes)
      const retried = await timedGet(url);
      expect(retried.status).toBe(200);
      expect(retried.complete).toBe(true);
      expect(sha256(retried.body)).toBe(sha256(content));
      const gets = upstreamGets(repoId, 'model.safetensors');
      expect(gets).toHaveLength(2);
      expect(gets[1].range).toMatch(/^bytes=\d+-$/);
    });

    it('never completes a response with bytes that fail verification', async () => {
      const repoId = 'acme/corrupt';
      hub.addRepo({
        id: repoId,
        files: [
          {
            path: 'model.safetensors',
            content: { size: SIZE, seed: 'corrupt' },
          },
        ],
      });
      const content = hub.fileContent(repoId, 'model.safetensors');
      const versionId = await mirrored(repoId);
      const url = fileUrl(repoId, 'model.safetensors');
      // right headers and length, wrong bytes: the SHA-256 check fails at the end
      hub.script({
        match: { method: 'GET', path: `/${repoId}/resolve/*` },
        times: 1,
        fault: { wrongBytes: true },
      });
      const served = await Promise.all([
        timedGet(url),
        timedGet(url, { Range: `bytes=${SIZE - 1024}-${SIZE - 1}` }),
      ]);
      for (const r of served) {
        expect(r.complete).toBe(false);
      }
      // the whole file but its last byte at most
      expect(served[0].body.length).toBeLessThan(SIZE);
      expect(await env.store.listFiles({ versionId })).toEqual([]);

      const retried = await timedGet(url);
      expect(retried.complete).toBe(true);
      expect(sha256(retried.body)).toBe(sha256(content));
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(2);
    });

    it('answers 502 before any header when the upstream refuses at once', async () => {
      const repoId = 'acme/refused';
      hub.addRepo({
        id: repoId,
        files: [
          {
            path: 'model.safetensors',
            content: { size: MiB, seed: 'refused' },
          },
        ],
      });
      await mirrored(repoId);
      hub.script({
        match: { method: 'GET', path: `/${repoId}/resolve/*` },
        times: 1,
        fault: { status: 403 },
      });
      const refused = await timedGet(fileUrl(repoId, 'model.safetensors'));
      expect(refused.status).toBe(502);
      expect(refused.headers.get('x-error-message')).toMatch(/retry/);
      const ok = await timedGet(fileUrl(repoId, 'model.safetensors'));
      expect(ok.status).toBe(200);
      expect(ok.complete).toBe(true);
    });

    it('keeps governance: versions that are not approved are not fetched or served', async () => {
      const repoId = 'acme/unreviewed';
      hub.addRepo({
        id: repoId,
        files: [
          { path: 'model.safetensors', content: { size: MiB, seed: 'draft' } },
        ],
      });
      await mirrored(repoId, false);
      const draft = await timedGet(fileUrl(repoId, 'model.safetensors'));
      expect(draft.status).toBe(404);

      // approved, but the caller may not download it
      const approved = 'acme/forbidden';
      hub.addRepo({
        id: approved,
        files: [
          { path: 'model.safetensors', content: { size: MiB, seed: 'denied' } },
        ],
      });
      await mirrored(approved);
      h.policy.authorize = () => AuthorizeResult.DENY;
      try {
        const denied = await timedGet(fileUrl(approved, 'model.safetensors'));
        expect([403, 404]).toContain(denied.status);
      } finally {
        h.policy.authorize = () => AuthorizeResult.ALLOW;
      }
      expect(upstreamGets(repoId, 'model.safetensors')).toHaveLength(0);
      expect(upstreamGets(approved, 'model.safetensors')).toHaveLength(0);
      // no partial file was started for them
      const partials = await fs
        .readdir(join(env.config.downloadDir, 'mirror'))
        .catch(() => [] as string[]);
      expect(partials.filter(p => p.endsWith('.partial'))).toEqual([]);
    });
  },
);

// Issue 22 meets issue 16: on-demand files of a model registered from a
// second Hub source (the bundled mock, twice, on two ports; the second one
// needs its token) come through that source's client.
const CORP_TOKEN = 'hf_corp_mirror_token_0123456789';
const CORP_ENV = 'MODEL_HUB_TEST_MIRROR_CORP_TOKEN';

describe.each(databases.eachSupportedId())(
  'on-demand fetch from model sources on %p',
  databaseId => {
    let publicHub: MockHub;
    let corpHub: MockHub;
    let publicServer: MockHfServer;
    let corpServer: MockHfServer;
    let dir: string;
    let h: MirrorHarness;
    let hf: Awaited<ReturnType<typeof setupHuggingFace>>;
    let store: DatabaseModelHubStore;
    let artifacts: LocalArtifactStore;
    const shutdownHooks: Array<() => Promise<void>> = [];
    const lifecycle = {
      addStartupHook: () => {},
      addShutdownHook: (hook: () => Promise<void> | void) => {
        shutdownHooks.push(async () => hook());
      },
      addBeforeShutdownHook: () => {},
    } as any;

    const getUrl = (repoPath: string, path: string) =>
      `${h.hubUrl}/${repoPath}/resolve/main/${path}`;

    /** Registers and syncs a repo from a source and approves its version. */
    async function mirrored(source: string, repoId: string) {
      const { sync } = hf.registry.hub(source);
      await sync.register({
        repoId,
        revision: 'main',
        owner: 'group:default/ml',
        createdBy: ALICE,
      });
      const { versionId } = await sync.syncRepo({ repoId });
      await h.setState({ id: versionId } as HubVersion, 'approved');
      return versionId;
    }

    beforeAll(async () => {
      const knex = await databases.init(databaseId);
      dir = await fs.mkdtemp(join(tmpdir(), 'mirror-src-'));
      publicHub = new MockHub();
      corpHub = new MockHub();
      corpHub.addToken(CORP_TOKEN, { user: 'corp-bot', access: '*' });
      publicServer = await createMockHfServer({ hub: publicHub });
      // paced, so that a fetch is still running when the backend stops
      corpServer = await createMockHfServer({
        hub: corpHub,
        rateLimitBytesPerSec: 4 * MiB,
      });
      process.env[CORP_ENV] = CORP_TOKEN;
      const database = mockServices.database({
        knex,
        migrations: { skip: false },
      });
      store = await DatabaseModelHubStore.create({ database });
      artifacts = await LocalArtifactStore.create({
        path: join(dir, 'store'),
      });
      const config = new ConfigReader({
        modelHub: {
          huggingface: {
            fetch: 'on-demand',
            downloadDir: join(dir, 'downloads'),
          },
          sources: [
            { name: 'public', endpoint: publicServer.url },
            {
              name: 'corp',
              endpoint: corpServer.url,
              tokenEnv: CORP_ENV,
              namespace: 'corp',
            },
          ],
        },
      });
      hf = await setupHuggingFace({
        config: mockServices.rootConfig({ data: config.get() as any }),
        logger: mockServices.logger.mock(),
        database,
        scheduler: mockServices.scheduler.mock(),
        lifecycle: mockServices.lifecycle.mock(),
        store,
        artifacts,
      });
      // the format inspection of the uploads, as the plugin wires it
      const uploads = await createUploadRoutes({
        db: knex,
        config: readUploadsConfig(new ConfigReader({}), {
          maxFileBytes: 1024 ** 3,
          defaultDirectory: join(dir, 'uploads'),
        }),
      });
      h = await startMirrorHarness({
        knex,
        artifacts,
        onDemandFetch: readOnDemandFetch(
          config,
          mockServices.logger.mock(),
          hf.registry,
        ),
        hubSources: hf.registry,
        onFileStored: (versionId, file) =>
          uploads.inspection.inspectStoredFile(versionId, file, artifacts),
        lifecycle,
      });
    });

    afterAll(async () => {
      for (const hook of shutdownHooks) {
        await hook();
      }
      await h?.stop();
      await publicServer?.close();
      await corpServer?.close();
      delete process.env[CORP_ENV];
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("fetches a second source's file from its Hub with its token, and inspects it", async () => {
      const repoId = 'acme/private-twin';
      const weights = makeSafetensors([
        { name: 'w', dtype: 'F32', shape: [4, 8] },
      ]);
      corpHub.addRepo({
        id: repoId,
        private: true,
        files: [{ path: 'model.safetensors', content: weights }],
      });
      // the corp Hub refuses it without its token; the default Hub has none
      expect(
        (await fetch(`${corpServer.url}/api/models/${repoId}`)).status,
      ).toBe(401);
      expect(publicHub.findRequests({ path: new RegExp(repoId) })).toEqual([]);
      const versionId = await mirrored('corp', repoId);
      expect(await store.listFiles({ versionId })).toEqual([]);
      corpHub.clearRequests();

      // the mirror serves it under the repo id (registered from one source)
      const res = await timedGet(getUrl(repoId, 'model.safetensors'));
      expect(res.status).toBe(200);
      expect(res.complete).toBe(true);
      expect(res.body.equals(weights)).toBe(true);

      // the fetch went to the corp Hub, with the corp token; none to the other
      const gets = corpHub.findRequests({
        method: 'GET',
        path: `/${repoId}/resolve/*/model.safetensors`,
      });
      expect(gets).toHaveLength(1);
      expect(gets[0].user).toBe('corp-bot');
      expect(publicHub.findRequests({ path: /\/resolve\// })).toEqual([]);

      // stored into the version and inspected like a downloaded file (both
      // follow the verified bytes: the response may end first)
      const checkRow = () =>
        h
          .knex('version_checks')
          .where({
            version_id: versionId,
            name: 'inspect:format:safetensors:model.safetensors',
          })
          .first();
      const until = Date.now() + 20_000;
      let check = await checkRow();
      while (!check && Date.now() < until) {
        await new Promise(r => setTimeout(r, 100));
        check = await checkRow();
      }
      expect(check).toBeTruthy();
      expect(
        (await store.listFiles({ versionId })).map(f => [f.path, f.sha256]),
      ).toEqual([['model.safetensors', sha256(weights)]]);
      expect(check.status).toBe('passed');
      expect(JSON.parse(check.details)).toMatchObject({ parameterCount: 32 });
    });

    it("serves a repo id registered from two sources as the default source's model, the other under its namespace", async () => {
      const repoId = 'acme/twin';
      publicHub.addRepo({
        id: repoId,
        files: [{ path: 'config.json', content: '{"from":"public"}' }],
      });
      corpHub.addRepo({
        id: repoId,
        files: [{ path: 'config.json', content: '{"from":"corp"}' }],
      });
      // the second source first: registration order does not decide
      await mirrored('corp', repoId);
      await mirrored('public', repoId);

      // the same model every time, on every database
      for (let i = 0; i < 3; i++) {
        const fromDefault = await timedGet(getUrl(repoId, 'config.json'));
        expect(fromDefault.status).toBe(200);
        expect(fromDefault.body.toString()).toBe('{"from":"public"}');
      }
      const publicModel = await store.getModel({
        entityRef: 'model:default/acme--twin',
      });
      expect(
        await h
          .knex('models')
          .where({ id: publicModel!.id })
          .first('source_name'),
      ).toEqual({ source_name: 'public' });
      const fromCorp = await timedGet(getUrl('corp/acme--twin', 'config.json'));
      expect(fromCorp.status).toBe(200);
      expect(fromCorp.body.toString()).toBe('{"from":"corp"}');
      expect(
        corpHub
          .findRequests({ method: 'GET', path: /\/resolve\// })
          .filter(r => r.path.startsWith(`/${repoId}/`))
          .every(r => r.user === 'corp-bot'),
      ).toBe(true);
    });

    it('stops fetches in progress at shutdown; the partial file stays and the next fetch resumes it', async () => {
      const repoId = 'acme/long';
      const size = 24 * MiB;
      corpHub.addRepo({
        id: repoId,
        files: [{ path: 'model.safetensors', content: { size, seed: 'long' } }],
      });
      const content = corpHub.fileContent(repoId, 'model.safetensors');
      const versionId = await mirrored('corp', repoId);
      const url = getUrl('corp/acme--long', 'model.safetensors');
      const cut = timedGet(url);
      // wait for a few checkpoints of the paced (4 MiB/s) fetch
      const partial = join(dir, 'downloads', 'mirror');
      const deadline = Date.now() + 30_000;
      let written = 0;
      while (written < 8 * MiB && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 200));
        const names = await fs.readdir(partial).catch(() => [] as string[]);
        const name = names.find(n => n.endsWith('.partial'));
        written = name ? (await fs.stat(join(partial, name))).size : 0;
      }
      expect(written).toBeGreaterThanOrEqual(8 * MiB);

      // the backend stops: the fetch ends, its reader is cut short
      const t0 = Date.now();
      for (const hook of shutdownHooks) {
        await hook();
      }
      expect(Date.now() - t0).toBeLessThan(5_000);
      const r = await cut;
      expect(r.complete).toBe(false);
      expect(await store.listFiles({ versionId })).toEqual([]);
      const kept = (await fs.readdir(partial)).filter(n =>
        n.endsWith('.partial'),
      );
      expect(kept).toHaveLength(1);
      expect((await fs.stat(join(partial, kept[0]))).size).toBeGreaterThan(0);

      // after the restart (a new mirror on the same folder and tables)
      const restarted = await startMirrorHarness({
        knex: h.knex,
        artifacts,
        onDemandFetch: readOnDemandFetch(
          new ConfigReader({
            modelHub: {
              huggingface: {
                fetch: 'on-demand',
                downloadDir: join(dir, 'downloads'),
              },
            },
          }),
          mockServices.logger.mock(),
          hf.registry,
        ),
        hubSources: hf.registry,
      });
      try {
        const resumed = await timedGet(
          `${restarted.hubUrl}/corp/acme--long/resolve/main/model.safetensors`,
        );
        expect(resumed.status).toBe(200);
        expect(resumed.complete).toBe(true);
        expect(sha256(resumed.body)).toBe(sha256(content));
      } finally {
        await restarted.stop();
      }
      const gets = corpHub.findRequests({
        method: 'GET',
        path: `/${repoId}/resolve/*/model.safetensors`,
      });
      expect(gets).toHaveLength(2);
      expect(gets[1].range).toMatch(/^bytes=[1-9]\d*-$/);
      expect(gets.every(g => g.user === 'corp-bot')).toBe(true);
    });
  },
);

describe('readOnDemandFetch', () => {
  const logger = { info: jest.fn() } as any;

  it('is off unless modelHub.huggingface.fetch is on-demand', () => {
    expect(readOnDemandFetch(new ConfigReader({}), logger)).toBeUndefined();
    expect(
      readOnDemandFetch(
        new ConfigReader({ modelHub: { huggingface: { fetch: 'approval' } } }),
        logger,
      ),
    ).toBeUndefined();
  });

  it('fetches from the configured Hub into a folder of the download folder', () => {
    const options = readOnDemandFetch(
      new ConfigReader({
        modelHub: {
          huggingface: {
            fetch: 'on-demand',
            endpoint: 'http://hub.test:5555/',
            downloadDir: '/srv/hf-downloads',
          },
          storage: { writeMode: 'buffered' },
        },
      }),
      logger,
    )!;
    expect(options.downloadDir).toBe('/srv/hf-downloads');
    expect(options.fetcher!.fileUrl('acme/x', 'a'.repeat(40), 'w.bin')).toBe(
      `http://hub.test:5555/acme/x/resolve/${'a'.repeat(40)}/w.bin`,
    );
  });
});
