import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createMockDirectory,
  mockCredentials,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { downloadFile, listFiles } from '@huggingface/hub';
import {
  ANNOTATION_KEY_ID,
  ANNOTATION_PORTAL,
  ANNOTATION_SIGNATURE,
  ANNOTATION_TITLE,
  jsonBlob,
  signedStatement,
} from './oci';
import { keyFingerprint, signStatement } from './signing';
import {
  buildTar,
  listTree,
  MemoryEntry,
  parseTar,
  Portal,
  portalKey,
  startPortal,
} from './__testUtils__/portals';

jest.setTimeout(180_000);

// Issue 20: two portals on separate databases and stores. Portal A signs
// exports with its key; portal B trusts A's public key, imports the bundle
// (trusted approvals land approved) and serves the version through its
// mirror. Every hostile bundle is refused with a 400 that names the problem
// and leaves nothing behind on B.

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find(p =>
  existsSync(p),
);

const SAFETENSORS = (() => {
  const header = Buffer.from(
    JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(4)]);
})();

const sha256 = (b: Buffer | Uint8Array) =>
  createHash('sha256').update(b).digest('hex');

describe.each(databases.eachSupportedId())(
  'transfer bundles on %s',
  databaseId => {
    const keyA = portalKey();
    const keyC = portalKey();
    const dir = createMockDirectory();
    let a: Portal;
    let b: Portal;
    let bundle: Buffer;
    let exportHeaders: Headers;
    const files: Record<string, Buffer> = {
      'config.json': Buffer.from('{"model_type":"tiny"}'),
      'model.safetensors': SAFETENSORS,
      'shards/big.bin': randomBytes(3 * 1024 * 1024 + 17),
    };

    beforeAll(async () => {
      a = await startPortal({
        databases,
        databaseId,
        dir: join(dir.path, 'a'),
        transfer: { portalName: 'portal-a', signingKey: keyA.privatePem },
      });
      b = await startPortal({
        databases,
        databaseId,
        dir: join(dir.path, 'b'),
        transfer: {
          portalName: 'portal-b',
          trustedKeys: [{ name: 'portal-a', publicKey: keyA.publicPem }],
          importedApprovals: 'trust',
          maxBlobSizeMiB: 64,
        },
      });
      const ok = async (res: Promise<Response>, status: number) => {
        const r = await res;
        if (r.status !== status) {
          throw new Error(`setup: ${r.status} ${await r.text()}`);
        }
        return r;
      };
      await ok(
        a.call('alice', '/models', {
          method: 'POST',
          json: {
            name: 'tiny',
            type: 'llm',
            owner: 'group:default/ml',
            title: 'Tiny LLM',
            tags: ['demo'],
          },
        }),
        201,
      );
      for (const label of ['v1', 'v2']) {
        await ok(
          a.call('alice', '/models/default/tiny/versions', {
            method: 'POST',
            json: { label },
          }),
          201,
        );
        // v2 holds one more file, of its own
        const contents =
          label === 'v2' ? { ...files, 'extra.bin': randomBytes(4096) } : files;
        for (const [path, content] of Object.entries(contents)) {
          await ok(
            a.call(
              'alice',
              `/models/default/tiny/versions/${label}/files/${path}`,
              {
                method: 'PUT',
                headers: { 'Content-Type': 'application/octet-stream' },
                body: content,
              },
            ),
            201,
          );
        }
        await ok(
          a.call(
            'alice',
            `/models/default/tiny/versions/${label}/transitions`,
            {
              method: 'POST',
              json: { action: 'submit', comment: 'ready' },
            },
          ),
          200,
        );
        await ok(
          a.call('bob', `/models/default/tiny/versions/${label}/transitions`, {
            method: 'POST',
            json: { action: 'approve', comment: 'looks good' },
          }),
          200,
        );
      }
      await ok(
        a.call('alice', '/models/default/tiny/active', {
          method: 'POST',
          json: { label: 'v1' },
        }),
        200,
      );
      // the active version (v1), by naming the model only
      const exported = await ok(
        a.call('carol', '/transfer/export', {
          method: 'POST',
          json: { versions: [{ model: 'default/tiny' }] },
        }),
        200,
      );
      bundle = Buffer.from(await exported.arrayBuffer());
      exportHeaders = exported.headers;
    });

    afterAll(async () => {
      await a?.stop();
      await b?.stop();
    });

    /** One more portal, trusting A's key, for one test (stopped by it). */
    const portalTrustingA = (name: string, policy: 'trust' | 'review') =>
      startPortal({
        databases,
        databaseId,
        dir: join(dir.path, name),
        transfer: {
          trustedKeys: [{ name: 'portal-a', publicKey: keyA.publicPem }],
          importedApprovals: policy,
        },
      });

    const importInto = (portal: Portal, body: Buffer, user = 'dana') =>
      portal.call(user, '/transfer/import', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-tar' },
        body,
      });

    /** The state of B that a refused import must leave as it was. */
    async function stateOf(portal: Portal) {
      return {
        store: await listTree(portal.storePath),
        staging: await listTree(portal.stagingPath),
        models: (await portal.knex('models').count({ n: '*' }))[0].n,
        versions: (await portal.knex('model_versions').count({ n: '*' }))[0].n,
        blobs: (await portal.knex('blobs').count({ n: '*' }))[0].n,
        imports: (await portal.knex('version_imports').count({ n: '*' }))[0].n,
      };
    }

    async function expectRefused(body: Buffer, message: RegExp) {
      const before = await stateOf(b);
      const res = await importInto(b, body);
      const text = await res.text();
      expect({ status: res.status, text }).toEqual({
        status: 400,
        text: expect.stringMatching(message),
      });
      expect(await stateOf(b)).toEqual(before);
    }

    /** The bundle with one entry changed (by name or predicate). */
    const edit = (
      fn: (entries: MemoryEntry[]) => MemoryEntry[],
      source = bundle,
    ) => buildTar(fn(parseTar(source)));
    const indexOf = (entries: MemoryEntry[]) =>
      JSON.parse(entries.find(e => e.name === 'index.json')!.data.toString());
    const blobOf = (entries: MemoryEntry[], digest: string) =>
      entries.find(e => e.name === `blobs/sha256/${digest.slice(7)}`)!;

    it('is an OCI image layout with one signed manifest per version, and the public key is published', async () => {
      expect(exportHeaders.get('content-type')).toBe('application/x-tar');
      expect(bundle.length).toBe(Number(exportHeaders.get('content-length')));
      const entries = parseTar(bundle);
      expect(entries.slice(0, 2).map(e => e.name)).toEqual([
        'oci-layout',
        'index.json',
      ]);
      const index = indexOf(entries);
      expect(index.manifests).toHaveLength(1);
      const manifest = JSON.parse(
        blobOf(entries, index.manifests[0].digest).data.toString(),
      );
      expect(
        manifest.layers
          .filter((l: any) => l.annotations?.[ANNOTATION_TITLE])
          .map((l: any) => [
            l.annotations[ANNOTATION_TITLE],
            l.digest.slice(7),
            l.size,
          ]),
      ).toEqual(
        Object.entries(files)
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([p, c]) => [p, sha256(c), c.length]),
      );
      // every blob is named by its hash
      for (const e of entries.filter(
        x => x.name.startsWith('blobs/sha256/') && x.type === 'file',
      )) {
        expect(sha256(e.data)).toBe(e.name.slice('blobs/sha256/'.length));
      }
      const evidence = JSON.parse(
        blobOf(
          entries,
          manifest.layers[manifest.layers.length - 1].digest,
        ).data.toString(),
      );
      expect(evidence).toMatchObject({
        portal: 'portal-a',
        model: 'model:default/tiny',
        version: 'v1',
        state: 'approved',
        approvedBy: [{ reviewer: 'user:default/bob' }],
        submissions: [{ round: 1, submittedBy: 'user:default/alice' }],
        decisions: [
          {
            reviewer: 'user:default/bob',
            decision: 'approve',
            comment: 'looks good',
          },
        ],
      });
      expect(evidence.auditTrail.length).toBeGreaterThan(0);
      expect(evidence.approvedDigest).toMatch(/^sha256:/);

      const key = await fetch(`${a.base}/transfer/public-key`); // no credentials
      expect(key.status).toBe(200);
      const body = await key.json();
      expect(body).toMatchObject({
        portal: 'portal-a',
        algorithm: 'Ed25519',
        keyId: keyFingerprint(keyA.publicKey),
      });
      expect(index.annotations[ANNOTATION_KEY_ID]).toBe(body.keyId);
    });

    (SKOPEO ? describe : describe.skip)('standard OCI tooling', () => {
      it(`is read by skopeo inspect oci-archive:<bundle> (${
        SKOPEO
          ? SKOPEO
          : 'SKIPPED: skopeo is not installed; apt-get install -y skopeo'
      })`, async () => {
        const exported = await a.call('carol', '/transfer/export', {
          method: 'POST',
          json: {
            versions: [
              { model: 'default/tiny', version: 'v1' },
              { model: 'model:default/tiny', version: 'v2' },
            ],
          },
        });
        expect(exported.status).toBe(200);
        const file = join(dir.path, `two-${databaseId}.oci.tar`);
        await writeFile(file, Buffer.from(await exported.arrayBuffer()));
        const index = indexOf(parseTar(await readFile(file)));
        expect(index.manifests).toHaveLength(2);
        for (const label of ['v1', 'v2']) {
          const ref = `default/tiny:${label}`;
          const raw = JSON.parse(
            execFileSync(
              SKOPEO!,
              ['inspect', '--raw', `oci-archive:${file}:${ref}`],
              { encoding: 'utf8' },
            ),
          );
          const descriptor = index.manifests.find(
            (m: any) =>
              m.annotations['org.opencontainers.image.ref.name'] === ref,
          );
          expect(sha256(Buffer.from(JSON.stringify(raw)))).toBe(
            descriptor.digest.slice(7),
          );
          const inspected = JSON.parse(
            execFileSync(SKOPEO!, ['inspect', `oci-archive:${file}:${ref}`], {
              encoding: 'utf8',
            }),
          );
          expect(inspected.Digest).toBe(descriptor.digest);
          expect(inspected.Labels).toMatchObject({
            'dev.model-hub.version': label,
          });
          expect(inspected.Layers).toEqual(
            raw.layers.map((l: any) => l.digest),
          );
        }
      });
    });

    it('imports into the second portal: approved, served by its mirror with the same SHA-256s, evidence on the version', async () => {
      const res = await importInto(b, bundle);
      expect(res.status).toBe(201);
      const result = await res.json();
      expect(result).toMatchObject({
        portal: 'portal-a',
        trustedKeyName: 'portal-a',
        policy: 'trust',
        versions: [
          {
            model: 'model:default/tiny',
            label: 'v1',
            state: 'approved',
            files: 3,
          },
        ],
      });
      // the mirror of B, as a Hub client sees it
      const listed: string[] = [];
      for await (const f of listFiles({
        repo: 'default/tiny',
        revision: 'v1',
        recursive: true,
        hubUrl: `${b.base}/hf`,
      })) {
        if (f.type === 'file') {
          listed.push(f.path);
        }
      }
      expect(listed.sort()).toEqual(Object.keys(files).sort());
      for (const [path, content] of Object.entries(files)) {
        const blob = await downloadFile({
          repo: 'default/tiny',
          revision: 'v1',
          path,
          hubUrl: `${b.base}/hf`,
        });
        expect(sha256(Buffer.from(await blob!.arrayBuffer()))).toBe(
          sha256(content),
        );
      }
      // the files API of B lists the same digests as A's
      const filesOf = async (p: Portal) =>
        (
          (
            await (
              await p.call('carol', '/models/default/tiny/versions/v1/files')
            ).json()
          ).files as any[]
        )
          .map(f => [f.path, f.sha256, f.size])
          .sort();
      expect(await filesOf(b)).toEqual(await filesOf(a));
      const versionA = await (
        await a.call('carol', '/models/default/tiny/versions/v1')
      ).json();
      const versionB = await (
        await b.call('carol', '/models/default/tiny/versions/v1')
      ).json();
      expect(versionB).toMatchObject({
        state: 'approved',
        approvedDigest: versionA.approvedDigest,
      });
      // the evidence on the version
      const evidence = await (
        await b.call(
          'carol',
          '/models/default/tiny/versions/v1/import-evidence',
        )
      ).json();
      expect(evidence.imported).toMatchObject({
        portal: 'portal-a',
        policy: 'trust',
        importedBy: 'user:default/dana',
        evidence: {
          approvedBy: [{ reviewer: 'user:default/bob' }],
          approvedDigest: versionA.approvedDigest,
        },
      });
      // it was A's active version: B makes it active (none was)
      const active = await (
        await b.call('carol', '/models/default/tiny/active')
      ).json();
      expect(active.active).toMatchObject({ label: 'v1' });
      // audited on the version's history
      const history = await (
        await b.call('carol', '/models/default/tiny/versions/v1/history')
      ).json();
      expect(history.items.map((e: any) => e.eventId)).toContain(
        'model-hub-version-import',
      );
      // a version that exists is a conflict, and nothing changes
      const before = await stateOf(b);
      expect((await importInto(b, bundle)).status).toBe(409);
      expect(await stateOf(b)).toEqual(before);
      // nothing is imported for a version A never approved
      expect(
        (
          await a.call(
            'carol',
            '/models/default/none/versions/v1/import-evidence',
          )
        ).status,
      ).toBe(404);
    });

    it('refuses a bundle signed by an unknown key', async () => {
      expect.hasAssertions();
      const body = edit(entries => {
        const index = indexOf(entries);
        index.annotations[ANNOTATION_KEY_ID] = keyFingerprint(keyC.publicKey);
        index.annotations[ANNOTATION_PORTAL] = 'portal-c';
        index.annotations[ANNOTATION_SIGNATURE] = signStatement(
          signedStatement(index),
          keyC.privateKey,
        );
        return entries.map(e =>
          e.name === 'index.json'
            ? { ...e, data: Buffer.from(JSON.stringify(index)) }
            : e,
        );
      });
      await expectRefused(
        body,
        /signed by an unknown key sha256:[a-f0-9]{64} \(portal 'portal-c'\)/,
      );
    });

    it('refuses a bad signature (index changed after signing)', async () => {
      expect.hasAssertions();
      const body = edit(entries => {
        const index = indexOf(entries);
        index.annotations[ANNOTATION_PORTAL] = 'portal-evil';
        return entries.map(e =>
          e.name === 'index.json'
            ? { ...e, data: Buffer.from(JSON.stringify(index)) }
            : e,
        );
      });
      await expectRefused(
        body,
        /signature does not verify with the trusted key 'portal-a'/,
      );
    });

    it('refuses a tampered blob', async () => {
      expect.hasAssertions();
      const big = sha256(files['shards/big.bin']);
      const body = edit(entries =>
        entries.map(e => {
          if (e.name !== `blobs/sha256/${big}`) {
            return e;
          }
          const data = Buffer.from(e.data);
          data[1000] ^= 0xff;
          return { ...e, data };
        }),
      );
      await expectRefused(
        body,
        new RegExp(`blob sha256:${big} was tampered with`),
      );
    });

    it('refuses a tampered manifest, in place or re-hashed', async () => {
      expect.hasAssertions();
      const inPlace = edit(entries => {
        const digest = indexOf(entries).manifests[0].digest;
        return entries.map(e =>
          e.name === `blobs/sha256/${digest.slice(7)}`
            ? {
                ...e,
                data: Buffer.from(
                  e.data.toString().replace('config.json', 'config.jsox'),
                ),
              }
            : e,
        );
      });
      await expectRefused(
        inPlace,
        /the manifest sha256:[a-f0-9]{64} of model:default\/tiny@v1 was tampered with/,
      );
      // the changed manifest under its own digest, the index pointing at it
      const rehashed = edit(entries => {
        const index = indexOf(entries);
        const old = blobOf(entries, index.manifests[0].digest);
        const changed = jsonBlob(
          JSON.parse(old.data.toString().replace('config.json', 'config.jsox')),
        );
        index.manifests[0].digest = changed.digest;
        index.manifests[0].size = changed.bytes.length;
        return [
          ...entries.map(e =>
            e.name === 'index.json'
              ? { ...e, data: Buffer.from(JSON.stringify(index)) }
              : e,
          ),
          { name: `blobs/sha256/${changed.hex}`, data: changed.bytes },
        ];
      });
      await expectRefused(rehashed, /signature does not verify/);
    });

    it('refuses names with traversal, in tar entries and in signed file paths', async () => {
      expect.hasAssertions();
      // a symbolic link named like a blob (type flag 2), pointing outside
      const link = buildTar([
        { name: `blobs/sha256/${'b'.repeat(64)}`, data: Buffer.alloc(0) },
      ]).subarray(0, 512);
      link.write('2', 156, 'ascii');
      link.write('/etc/passwd', 157, 'utf8');
      link.fill(0x20, 148, 156);
      const sum = link.reduce((n, byte) => n + byte, 0);
      link.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
      await expectRefused(
        Buffer.concat([
          buildTar(parseTar(bundle)).subarray(0, -1024),
          link,
          Buffer.alloc(1024),
        ]),
        /entry 'blobs\/sha256\/b{64}' is of tar type '2'/,
      );
      await expectRefused(
        edit(entries => [
          ...entries,
          { name: 'blobs/sha256/../../evil', data: Buffer.from('x') },
        ]),
        /entry 'blobs\/sha256\/..\/..\/evil' has a name with path traversal/,
      );
      await expectRefused(
        edit(entries => [
          { name: '../outside', data: Buffer.from('x') },
          ...entries,
        ]),
        /entry '..\/outside' has a name with path traversal/,
      );
      // signed by the trusted key, but a file path escapes the version
      const body = edit(entries => {
        const index = indexOf(entries);
        const old = blobOf(entries, index.manifests[0].digest);
        const manifest = JSON.parse(old.data.toString());
        manifest.layers[0].annotations[ANNOTATION_TITLE] = '../../etc/passwd';
        const changed = jsonBlob(manifest);
        index.manifests[0].digest = changed.digest;
        index.manifests[0].size = changed.bytes.length;
        index.annotations[ANNOTATION_SIGNATURE] = signStatement(
          signedStatement(index),
          keyA.privateKey,
        );
        return [
          ...entries.map(e =>
            e.name === 'index.json'
              ? { ...e, data: Buffer.from(JSON.stringify(index)) }
              : e,
          ),
          { name: `blobs/sha256/${changed.hex}`, data: changed.bytes },
        ];
      });
      await expectRefused(
        body,
        /names a file badly \(path traversal or invalid\): Invalid file path '..\/..\/etc\/passwd'/,
      );
    });

    it('refuses duplicate digests with different content', async () => {
      expect.hasAssertions();
      const digest = sha256(files['config.json']);
      const body = edit(entries => [
        ...entries,
        {
          name: `blobs/sha256/${digest}`,
          data: Buffer.from('{"model_type":"evil"}'),
        },
      ]);
      await expectRefused(
        body,
        new RegExp(
          `blob sha256:${digest} appears twice with different content`,
        ),
      );
    });

    it('refuses sizes beyond the limits before reading them', async () => {
      expect.hasAssertions();
      // a header that declares 1 TiB: refused at the header, the data never sent
      const header = buildTar([
        {
          name: `blobs/sha256/${'a'.repeat(64)}`,
          data: Buffer.alloc(0),
          declaredSize: 2 ** 40,
        },
      ]).subarray(0, 512);
      const entries = parseTar(bundle);
      const body = Buffer.concat([
        buildTar(entries.slice(0, 2)).subarray(0, -1024),
        header,
        Buffer.alloc(4096),
      ]);
      await expectRefused(
        body,
        /blob sha256:a{64} is 1099511627776 bytes, over the limit of 67108864 bytes/,
      );
    });

    it('refuses a deeply nested or oversized index.json before parsing it, without blocking the event loop', async () => {
      const withIndex = (text: string) =>
        edit(entries =>
          entries.map(e =>
            e.name === 'index.json' ? { ...e, data: Buffer.from(text) } : e,
          ),
        );
      // the index is read before its signature is checked: anyone who may
      // import can send it. Nested 900 KiB deep, JSON.parse takes seconds.
      let worst = 0;
      let last = performance.now();
      const probe = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last - 10);
        last = now;
      }, 10);
      try {
        const depth = 900 * 1024;
        await expectRefused(
          withIndex(`${'['.repeat(depth)}${']'.repeat(depth)}`),
          /index.json nests arrays and objects deeper than 64 levels/,
        );
      } finally {
        clearInterval(probe);
      }
      expect(worst).toBeLessThan(1000);
      // a flat index of 3 MiB: over the 2 MiB of an unsigned document
      await expectRefused(
        withIndex(JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) })),
        /index.json is 3145738 bytes, over the limit of 2097152 bytes/,
      );
    });

    it('leaves nothing behind when the database fails in the middle of the transaction', async () => {
      // v2 (not on B yet): blobs reach the store, models and versions are
      // written, then the last insert of the transaction fails
      const exported = await a.call('carol', '/transfer/export', {
        method: 'POST',
        json: { versions: [{ model: 'default/tiny', version: 'v2' }] },
      });
      const v2 = Buffer.from(await exported.arrayBuffer());
      const before = await stateOf(b);
      await b.knex.schema.renameTable(
        'version_imports',
        'version_imports_away',
      );
      try {
        const res = await importInto(b, v2);
        expect(res.status).toBe(500);
      } finally {
        await b.knex.schema.renameTable(
          'version_imports_away',
          'version_imports',
        );
      }
      expect(await stateOf(b)).toEqual(before);
      // and the same bundle imports once the database works
      expect((await importInto(b, v2)).status).toBe(201);
    });

    it('moves a bundle with the CLI (scripts/model-hub-transfer.mjs): export to a file, import from it', async () => {
      const cli = join(
        __dirname,
        '..',
        '..',
        '..',
        '..',
        'scripts',
        'model-hub-transfer.mjs',
      );
      const token = (u: string) =>
        mockCredentials.user
          .header(`user:default/${u}`)
          .slice('Bearer '.length);
      const url = (p: Portal) => p.base.replace(/\/api\/model-hub$/, '');
      const run = (args: string[], user: string) =>
        new Promise<{ code: number; out: string }>(done => {
          execFile(
            process.execPath,
            [cli, ...args],
            { env: { ...process.env, MODEL_HUB_TOKEN: token(user) } },
            (error, stdout, stderr) =>
              done({
                code: error ? Number(error.code ?? 1) : 0,
                out: `${stdout}${stderr}`,
              }),
          );
        });
      const file = join(dir.path, `cli-${databaseId}.oci.tar`);
      const exported = await run(
        [
          'export',
          '--url',
          url(a),
          '--model',
          'default/tiny@v2',
          '--out',
          file,
        ],
        'carol',
      );
      expect(exported).toMatchObject({
        code: 0,
        out: expect.stringMatching(/^Wrote /),
      });
      const index = indexOf(parseTar(await readFile(file)));
      expect(
        index.manifests.map((m: any) => m.annotations['dev.model-hub.version']),
      ).toEqual(['v2']);
      const d = await portalTrustingA('d', 'trust');
      try {
        // a refusal reaches the CLI's user with its message
        const tampered = join(dir.path, `cli-tampered-${databaseId}.oci.tar`);
        const entries = parseTar(await readFile(file));
        const last = entries[entries.length - 1];
        last.data = Buffer.from(last.data);
        last.data[0] ^= 0xff;
        await writeFile(tampered, buildTar(entries));
        const refused = await run(
          ['import', '--url', url(d), tampered],
          'dana',
        );
        expect(refused).toMatchObject({
          code: 1,
          out: expect.stringMatching(
            /^400 Bad Request: Rejected bundle: blob sha256:[a-f0-9]{64} was tampered with/,
          ),
        });
        const imported = await run(['import', '--url', url(d), file], 'dana');
        expect(imported).toMatchObject({
          code: 0,
          out: expect.stringMatching(
            /^model:default\/tiny@v2: approved \(4 files, \d+ bytes\), signed by portal-a/,
          ),
        });
      } finally {
        await d.stop();
      }
    });

    it('refuses an export naming a model with more than one slash, instead of exporting another', async () => {
      const res = await a.call('carol', '/transfer/export', {
        method: 'POST',
        json: { versions: [{ model: 'default/tiny/v2', version: 'v1' }] },
      });
      expect({ status: res.status, text: await res.text() }).toEqual({
        status: 400,
        text: expect.stringContaining("model reference 'default/tiny/v2'"),
      });
    });

    it('refuses to import into a model of the same name that another group owns here', async () => {
      // (a portal of its own: the CLI test's portal d holds the import)
      const d = await portalTrustingA('e', 'trust');
      try {
        // another team named its model here as A's ml group did there
        const created = await d.call('erin', '/models', {
          method: 'POST',
          json: { name: 'tiny', type: 'llm', owner: 'group:default/vision' },
        });
        expect(created.status).toBe(201);
        const counts = async () => ({
          versions: (await d.knex('model_versions').count({ n: '*' }))[0].n,
          blobs: (await d.knex('blobs').count({ n: '*' }))[0].n,
          store: await listTree(join(d.storePath, 'sha256')),
        });
        const before = await counts();
        const res = await importInto(d, bundle);
        expect({ status: res.status, text: await res.text() }).toEqual({
          status: 409,
          text: expect.stringContaining(
            'Model model:default/tiny is owned by group:default/vision on this portal, but by group:default/ml on portal portal-a',
          ),
        });
        expect(await counts()).toEqual(before);
        const active = await (
          await d.call('carol', '/models/default/tiny/active')
        ).json();
        expect(active.active ?? null).toBeNull();
      } finally {
        await d.stop();
      }
    });

    it('puts imported approvals in review when the policy says review', async () => {
      const c = await portalTrustingA('c', 'review');
      try {
        const res = await importInto(c, bundle);
        expect(res.status).toBe(201);
        const version = await (
          await c.call('carol', '/models/default/tiny/versions/v1')
        ).json();
        expect(version.state).toBe('in_review');
        expect(version.approvedDigest).toBeUndefined();
        // not served until a reviewer here approves it
        expect(
          (await fetch(`${c.base}/hf/default/tiny/resolve/v1/config.json`))
            .status,
        ).toBe(404);
        const evidence = await (
          await c.call(
            'carol',
            '/models/default/tiny/versions/v1/import-evidence',
          )
        ).json();
        expect(evidence.imported).toMatchObject({
          policy: 'review',
          portal: 'portal-a',
        });
        const review = await await c.call(
          'bob',
          '/models/default/tiny/versions/v1/transitions',
          {
            method: 'POST',
            json: { action: 'approve' },
          },
        );
        expect(review.status).toBe(200);
        const blob = await downloadFile({
          repo: 'default/tiny',
          revision: 'v1',
          path: 'shards/big.bin',
          hubUrl: `${c.base}/hf`,
        });
        expect(sha256(Buffer.from(await blob!.arrayBuffer()))).toBe(
          sha256(files['shards/big.bin']),
        );
      } finally {
        await c.stop();
      }
    });
  },
);
