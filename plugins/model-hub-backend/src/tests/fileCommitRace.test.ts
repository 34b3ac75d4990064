import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  createMockDirectory,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { writeZip } from '../archive/__testUtils__/zipWriter';
import { createDownloadExecutor, FileFetcher } from '../huggingface/downloadExecutor';
import { PartialDownloadStore } from '../jobs/PartialDownloadStore';
import { scanLocalModels } from '../scan/scanLocalModels';
import { ArtifactStore } from '../store/ArtifactStore';
import {
  ALICE,
  API,
  as,
  BOB,
  createIntegrityHarness,
  IntegrityHarness,
  settle,
} from './__testUtils__/integrityHarness';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KIB = 1024;

/** A gate that a test opens once the other side of a race happened. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>(r => {
    open = r;
  });
  let reached!: () => void;
  const wasReached = new Promise<void>(r => {
    reached = r;
  });
  return { open, opened, reached, wasReached };
}

/*
 * Every way into a version, raced against submit + approve while its bytes
 * are still arriving (a real slow request body over a socket, or a stream
 * that is paused): none ends with a file in a version that is no longer
 * editable, and the approved version keeps serving exactly the content it
 * was approved with.
 */
describe.each(databases.eachSupportedId())('one commit path (%s)', id => {
  let h: IntegrityHarness;
  let root: string;

  beforeAll(async () => {
    root = mockDir.resolve(`race-${id}`);
    await fs.mkdir(root, { recursive: true });
    h = await createIntegrityHarness({
      knex: await databases.init(id),
      root,
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A model with a draft v1 holding one file. */
  async function draft(model: string) {
    await h.createModel(model);
    await h.createVersion(model, 'v1');
    await h.put(model, 'v1', 'config.json', Buffer.from('{}')).expect(201);
  }

  async function expectNoLateFile(model: string, path: string) {
    const files = await h.expectServesApprovedContent(model, 'v1');
    expect(files.map(f => f.path)).not.toContain(path);
  }

  it('PUT: a slow body that ends after the approval is refused', async () => {
    await draft('put');
    const body = randomBytes(256 * KIB);
    const upload = h.slowRequest({
      method: 'PUT',
      path: `${h.versionPath('put', 'v1')}/files/late.bin`,
      headers: {
        Authorization: as(ALICE),
        'Content-Type': 'application/octet-stream',
      },
      first: body.subarray(0, 1000),
      rest: body.subarray(1000),
    });
    await settle(); // the state check before the body has passed
    await h.submitAndApprove('put', 'v1');
    const answer = await upload.finish();
    expect(answer.status).toBe(409);
    expect(answer.body).toMatch(
      /Version v1 is approved; files can only change/,
    );
    await expectNoLateFile('put', 'late.bin');
    // the bytes of the refused upload are not left in the store
    expect(await h.store.getBlob({ sha256: sha(body) })).toBeUndefined();
    expect(await h.artifacts.stat(sha(body))).toBeUndefined();
  });

  it('multipart: a slow file part that ends after the approval is refused', async () => {
    await draft('multipart');
    const data = randomBytes(128 * KIB);
    const boundary = 'integrity-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\nlate.bin\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.bin"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const whole = Buffer.concat([head, data, tail]);
    const upload = h.slowRequest({
      method: 'POST',
      path: `${h.versionPath('multipart', 'v1')}/files`,
      headers: {
        Authorization: as(ALICE),
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
      },
      first: whole.subarray(0, head.length + 1000),
      rest: whole.subarray(head.length + 1000),
    });
    await settle();
    await h.submitAndApprove('multipart', 'v1');
    const answer = await upload.finish();
    expect(answer.status).toBe(409);
    await expectNoLateFile('multipart', 'late.bin');
    expect(await h.artifacts.stat(sha(data))).toBeUndefined();
  });

  it('tus: an upload whose last PATCH ends after the approval is refused', async () => {
    await draft('tus');
    const data = randomBytes(200 * KIB);
    const meta = { model: 'default/tus', version: 'v1', path: 'late.bin' };
    const created = await request(h.app)
      .post(`${API}/uploads`)
      .set('Authorization', as(ALICE))
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(data.length))
      .set(
        'Upload-Metadata',
        Object.entries(meta)
          .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
          .join(','),
      )
      .expect(201);
    const location = new URL(created.headers.location, 'http://x').pathname;
    const patch = h.slowRequest({
      method: 'PATCH',
      path: location,
      headers: {
        Authorization: as(ALICE),
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
      },
      first: data.subarray(0, 1000),
      rest: data.subarray(1000),
    });
    await settle();
    await h.submitAndApprove('tus', 'v1');
    const answer = await patch.finish();
    expect(answer.status).toBe(409);
    await expectNoLateFile('tus', 'late.bin');
    expect(await h.artifacts.stat(sha(data))).toBeUndefined();
  });

  it('ZIP package: a slow package whose label was approved meanwhile is refused', async () => {
    await h.createModel('pkg');
    const files = {
      'config.json': Buffer.from('{"model_type":"llama"}'),
      'late.bin': randomBytes(64 * KIB),
    };
    const manifest = {
      name: 'pkg',
      version: 'v1',
      files: Object.entries(files).map(([path, data]) => ({
        path,
        sha256: sha(data),
        size: data.length,
      })),
    };
    const zip = writeZip([
      {
        name: 'model-manifest.json',
        data: Buffer.from(JSON.stringify(manifest)),
      },
      ...Object.entries(files).map(([name, data]) => ({
        name,
        data,
        method: 0,
      })),
    ]);
    const upload = h.slowRequest({
      method: 'POST',
      path: `${API}/models/default/pkg/packages`,
      headers: {
        Authorization: as(ALICE),
        'Content-Type': 'application/zip',
      },
      first: zip.subarray(0, 1000),
      rest: zip.subarray(1000),
    });
    await settle();
    // meanwhile v1 is created through the API, filled and approved
    await h.createVersion('pkg', 'v1');
    await h.put('pkg', 'v1', 'config.json', Buffer.from('{}')).expect(201);
    await h.submitAndApprove('pkg', 'v1');
    const answer = await upload.finish();
    expect(answer.status).toBe(409);
    expect(answer.body).toMatch(/Version v1 already exists/);
    await expectNoLateFile('pkg', 'late.bin');
    expect(await h.artifacts.stat(sha(files['late.bin']))).toBeUndefined();
  });

  it('HF download: bytes after approval fill in only the approved file list', async () => {
    await h.createModel('hf');
    const model = (await h.store.getModel({ entityRef: 'model:default/hf' }))!;
    const listed = randomBytes(96 * KIB);
    const unlisted = randomBytes(8 * KIB);
    const version = await h.store.createVersion({
      modelId: model.id,
      label: 'v1',
      sourceType: 'huggingface',
      resolvedCommit: 'c'.repeat(40),
      createdBy: 'huggingface-sync',
      expectedFiles: [
        { path: 'model.safetensors', size: listed.length, sha256: sha(listed) },
      ],
    });
    const g = gate();
    const contents = new Map([
      ['model.safetensors', listed],
      ['extra.bin', unlisted],
    ]);
    const fetcher: FileFetcher = {
      fileUrl: (repo, commit, path) =>
        `http://127.0.0.1:9/${repo}/resolve/${commit}/${path}`,
      streamFile: async (_repo, _commit, path) => {
        const data = contents.get(path)!;
        return {
          status: 200,
          statusText: 'OK',
          headers: {
            get: (name: string) =>
              name.toLowerCase() === 'content-length'
                ? String(data.length)
                : null,
          },
          body: (async function* body() {
            yield new Uint8Array(data.subarray(0, 1000));
            g.reached();
            await g.opened; // paused mid-file
            yield new Uint8Array(data.subarray(1000));
          })(),
          cancel: async () => {},
        };
      },
    };
    const executor = createDownloadExecutor({
      fetcher,
      store: h.store,
      artifacts: h.artifacts,
      partials: new PartialDownloadStore(h.knex),
      downloadDir: join(root, 'downloads'),
    });
    const job = executor({
      job: {
        id: 'race-job',
        type: 'huggingface-download',
        versionId: version.id,
        createdBy: ALICE,
        params: {
          repo: 'acme/hf',
          commit: 'c'.repeat(40),
          files: [
            {
              path: 'model.safetensors',
              size: listed.length,
              oid: 'a'.repeat(40),
              lfsSha256: sha(listed),
            },
            {
              path: 'extra.bin',
              size: unlisted.length,
              oid: 'b'.repeat(40),
              lfsSha256: sha(unlisted),
            },
          ],
        },
      } as any,
      signal: new AbortController().signal,
      logger: mockServices.logger.mock(),
      log: async () => {},
      progress: () => {},
    });
    const settled = job.then(
      () => undefined,
      (e: Error) => e,
    );
    await g.wasReached;
    await h.submitAndApprove('hf', 'v1');
    const approved = await h.version('hf', 'v1');
    g.open();
    const error = await settled;
    expect(error?.name).toBe('ConflictError');
    expect(error?.message).toMatch(/extra.bin is not in the file list/);
    const after = await h.version('hf', 'v1');
    expect(after.state).toBe('approved');
    // the approval is of the file list: filling in its bytes keeps it
    expect(after.contentDigest).toBe(approved.approvedDigest);
    expect(after.approvedDigest).toBe(approved.approvedDigest);
    const files = await h.files('hf', 'v1');
    expect(files.map(f => [f.path, f.sha256])).toEqual([
      ['model.safetensors', sha(listed)],
    ]);

    // a download into an approved version without a file list adds nothing
    await draft('hf-upload');
    await h.submitAndApprove('hf-upload', 'v1');
    const plain = (await h.store.getVersion({
      modelId: (await h.store.getModel({
        entityRef: 'model:default/hf-upload',
      }))!.id,
      label: 'v1',
    }))!;
    const g2 = gate();
    g2.open();
    const refused = await createDownloadExecutor({
      fetcher,
      store: h.store,
      artifacts: h.artifacts,
      partials: new PartialDownloadStore(h.knex),
      downloadDir: join(root, 'downloads'),
    })({
      job: {
        id: 'race-job-2',
        type: 'huggingface-download',
        versionId: plain.id,
        createdBy: ALICE,
        params: {
          repo: 'acme/hf',
          commit: 'c'.repeat(40),
          files: [
            {
              path: 'extra.bin',
              size: unlisted.length,
              oid: 'b'.repeat(40),
              lfsSha256: sha(unlisted),
            },
          ],
        },
      } as any,
      signal: new AbortController().signal,
      logger: mockServices.logger.mock(),
      log: async () => {},
      progress: () => {},
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/Version v1 is approved/);
    await expectNoLateFile('hf-upload', 'extra.bin');
  });

  it('local scan: a file whose stream is paused past the approval is refused', async () => {
    const scanRoot = join(root, 'scan');
    const folder = join(scanRoot, 'acme', 'scanned');
    await fs.mkdir(folder, { recursive: true });
    const data = randomBytes(64 * KIB);
    await fs.writeFile(join(folder, 'config.json'), '{"model_type":"llama"}');
    await fs.writeFile(join(folder, 'model.safetensors'), data);
    const g = gate();
    // the store's writes wait at the gate: the file's stream is paused
    const paused = new Proxy(h.artifacts, {
      get(target, key) {
        if (key === 'put') {
          return async (...args: Parameters<ArtifactStore['put']>) => {
            g.reached();
            await g.opened;
            return target.put(...args);
          };
        }
        const value = (target as any)[key];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as ArtifactStore;
    const scan = scanLocalModels({
      root: scanRoot,
      path: 'acme/scanned',
      store: h.store,
      artifacts: paused,
      namespace: 'default',
      owner: ALICE,
      createdBy: ALICE,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    await Promise.race([
      g.wasReached,
      scan.then(e => {
        throw e ?? new Error('The scan ended without writing');
      }),
    ]);
    const models = await h.store.listModels({
      offset: 0,
      limit: 10,
      search: 'scanned',
    });
    const name = models.items[0].name;
    const [version] = await h.store.listVersions({
      modelId: models.items[0].id,
    });
    await h.transition(name, version.label, ALICE, 'submit').expect(200);
    await h.transition(name, version.label, BOB, 'approve').expect(200);
    g.open();
    const error = await scan;
    expect(error?.name).toBe('ConflictError');
    // the first file was held at the gate: nothing entered the version
    const files = await h.files(name, version.label);
    expect(files).toEqual([]);
    const after = await h.version(name, version.label);
    expect(after.contentDigest).toBe(after.approvedDigest);
    expect(await h.artifacts.stat(sha(data))).toBeUndefined();
  });
});
