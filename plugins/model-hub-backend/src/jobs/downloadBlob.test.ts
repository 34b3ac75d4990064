import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex, { Knex as KnexType } from 'knex';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { httpGet } from '../huggingface/httpGet';
import type { FileResponse } from './types';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { DownloadVerificationError, downloadBlob } from './downloadBlob';
import { RetryableJobError } from './JobWorker';
import { PartialDownloadStore } from './PartialDownloadStore';

jest.setTimeout(60_000);

const SIZE = 48 * 1024 * 1024 + 12345;
const data = randomBytes(SIZE);
const sha256 = createHash('sha256').update(data).digest('hex');

/**
 * Serves `data` with ranges; `plan` says, per request, how many bytes to
 * send before the connection is cut and whether a byte is flipped.
 */
function serve(plan: Array<{ cutAfter?: number; corrupt?: boolean }>) {
  const requests: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    const step = plan[requests.length] ?? {};
    requests.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    let body = data.subarray(start);
    if (step.corrupt) {
      body = Buffer.from(body);
      body[body.length - 1] ^= 0xff;
    }
    res.writeHead(m ? 206 : 200, {
      'Content-Length': String(body.length),
      ...(m && { 'Content-Range': `bytes ${start}-${SIZE - 1}/${SIZE}` }),
    });
    if (step.cutAfter !== undefined) {
      res.write(body.subarray(0, step.cutAfter), () =>
        setTimeout(() => res.socket?.destroy(), 50),
      );
    } else {
      res.end(body);
    }
  });
  return new Promise<{
    server: Server;
    url: string;
    requests: typeof requests;
  }>(resolve =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`,
        requests,
      }),
    ),
  );
}

function fetcher(url: string) {
  return async (
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<FileResponse> => {
    const res = await httpGet(new URL(url), { headers, signal });
    return {
      status: res.statusCode,
      statusText: res.statusMessage,
      headers: { get: name => res.headers[name.toLowerCase()] ?? null },
      body: res.body,
      cancel: async () => res.destroy(),
    };
  };
}

describe('downloadBlob with the hash in a worker thread', () => {
  let dir: string;
  let knex: KnexType;
  let server: Server | undefined;

  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'download-blob-'));
    knex = Knex({
      client: 'better-sqlite3',
      connection: { filename: ':memory:' },
      useNullAsDefault: true,
    });
    await DatabaseModelHubStore.create({
      database: mockServices.database({ knex, migrations: { skip: false } }),
    });
  });

  afterEach(async () => {
    server?.close();
    await knex.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const setUp = async () => ({
    artifacts: await LocalArtifactStore.create({ path: join(dir, 'store') }),
    partials: new PartialDownloadStore(knex),
  });

  it.each(['direct', 'buffered'] as const)(
    'resumes a cut download (%s writes) and verifies the SHA-256 of the whole file, kept bytes included',
    async writeMode => {
      const s = await serve([{ cutAfter: 20 * 1024 * 1024 + 1000 }]);
      server = s.server;
      const { artifacts, partials } = await setUp();
      const file = {
        path: 'model.bin',
        size: SIZE,
        oid: 'x',
        lfsSha256: sha256,
      };
      const options = {
        file,
        url: s.url,
        fetchRange: fetcher(s.url),
        artifacts,
        partials,
        dir: join(dir, 'downloads'),
        signal: new AbortController().signal,
        checkpointBytes: 4 * 1024 * 1024,
        writeMode,
      };
      await expect(downloadBlob(options)).rejects.toBeInstanceOf(
        RetryableJobError,
      );
      const kept = (await partials.get(`sha256:${sha256}`))!.durableOffset;
      expect(kept).toBeGreaterThan(0);
      const blob = await downloadBlob(options);
      expect(blob.sha256).toBe(sha256);
      expect(blob.resumedFrom).toBe(kept);
      expect(s.requests).toEqual([undefined, `bytes=${kept}-`]);
      const stored = await fs.readFile(join(dir, 'store', blob.location));
      expect(stored.equals(data)).toBe(true);
      expect(await partials.get(`sha256:${sha256}`)).toBeUndefined();
    },
  );

  it('refuses wrong bytes of a regular file (git blob SHA-1 in the worker) and stores nothing', async () => {
    const s = await serve([{ corrupt: true }, {}]);
    server = s.server;
    const { artifacts, partials } = await setUp();
    const oid = createHash('sha1')
      .update(`blob ${SIZE}\0`)
      .update(data)
      .digest('hex');
    const options = {
      file: { path: 'weights.bin', size: SIZE, oid },
      url: s.url,
      fetchRange: fetcher(s.url),
      artifacts,
      partials,
      dir: join(dir, 'downloads'),
      signal: new AbortController().signal,
      backgroundHashMinBytes: 0,
    };
    const failure = downloadBlob(options);
    await expect(failure).rejects.toBeInstanceOf(DownloadVerificationError);
    await expect(failure).rejects.toThrow(/git blob sha1 mismatch/);
    expect(await fs.readdir(join(dir, 'downloads'))).toEqual([]);
    // the right bytes verify
    const blob = await downloadBlob(options);
    expect(blob.sha256).toBe(sha256);
  });
});
