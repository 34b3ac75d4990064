import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import * as tus from 'tus-js-client';
import { createHarness, Harness, tusMetadata } from './harness';

// tus requests against a harness, and two backend instances on one
// database, for the upload tests.

export const MIB = 1024 * 1024;

export const sha256 = (b: Buffer) =>
  createHash('sha256').update(b).digest('hex');

/** Short leases, so that a dead holder's lock is taken over within seconds. */
export const LOCKS = {
  leaseMs: 1_500,
  heartbeatMs: 100,
  acquireTimeoutMs: 5_000,
};

/** A tus creation request (POST), as `user` (else the harness's default). */
export function tusCreateRequest(
  h: Harness,
  size: number,
  metadata: Record<string, string>,
  user?: string,
) {
  const req = request(h.app)
    .post('/api/model-hub/uploads')
    .set('Tus-Resumable', '1.0.0')
    .set('Upload-Length', String(size))
    .set('Upload-Metadata', tusMetadata(metadata));
  if (user) {
    req.set('Authorization', mockCredentials.user.header(user));
  }
  return req;
}

/**
 * Creates an upload of `path` into version v1 of model default/llama (what
 * the harness's `seed` creates); resolves with the upload's URL path.
 */
export async function tusCreate(
  h: Harness,
  path: string,
  size: number,
  metadata: Record<string, string> = {},
) {
  const res = await tusCreateRequest(h, size, {
    model: 'default/llama',
    version: 'v1',
    path,
    ...metadata,
  }).expect(201);
  return new URL(res.headers.location).pathname;
}

/**
 * A tus PATCH of `body` at `offset`; `headers` replace the tus headers
 * (undefined: the header is not sent).
 */
export function tusPatch(
  h: Harness,
  location: string,
  body: Buffer,
  offset: number,
  headers: Record<string, string | undefined> = {},
) {
  const req = request(h.app).patch(location);
  const all: Record<string, string | undefined> = {
    'Tus-Resumable': '1.0.0',
    'Upload-Offset': String(offset),
    'Content-Type': 'application/offset+octet-stream',
    ...headers,
  };
  for (const [name, value] of Object.entries(all)) {
    if (value !== undefined) {
      req.set(name, value);
    }
  }
  return req.send(body);
}

/** A tus HEAD request. */
export function tusHead(h: Harness, location: string) {
  return request(h.app).head(location).set('Tus-Resumable', '1.0.0');
}

/** The upload's offset, from a HEAD that must answer 200. */
export async function tusOffset(h: Harness, location: string) {
  const res = await tusHead(h, location).expect(200);
  return Number(res.headers['upload-offset']);
}

/** Runs a tus-js-client upload to completion. */
export function tusUpload(
  input: Buffer | ReturnType<typeof createReadStream>,
  options: Partial<tus.UploadOptions> & { endpoint: string },
): Promise<{ url: string; sha256: string | null; checks: string | null }> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(input as any, {
      retryDelays: [0, 100, 300, 1000, 1000, 2000],
      ...options,
      onSuccess: payload => {
        resolve({
          url: upload.url!,
          sha256: payload.lastResponse.getHeader('X-Content-Sha256') ?? null,
          checks: payload.lastResponse.getHeader('X-Model-Hub-Checks') ?? null,
        });
      },
      onError: reject,
    });
    upload.start();
  });
}

/**
 * Two backend instances (routers, upload stores, lockers) on one database,
 * in `roots` (the same folder twice: a shared upload folder), with short
 * lock leases and room for 50 unfinished uploads; model default/llama v1 is
 * seeded. `close` releases their locks and closes the servers they started.
 */
export async function createInstances(
  options: Omit<Parameters<typeof createHarness>[0], 'root'> & {
    roots: [string, string];
  },
) {
  const { roots, ...rest } = options;
  const config = (c: Harness['config']) => {
    c.locks = LOCKS;
    c.maxActiveUploadsPerUser = 50;
    options.config?.(c);
  };
  const a = await createHarness({ ...rest, root: roots[0], config });
  const b = await createHarness({ ...rest, root: roots[1], config });
  await a.seed();
  const servers: http.Server[] = [];

  /** Listens with `h` on 127.0.0.1; resolves with its base URL. */
  async function listen(h: Harness) {
    const { url, server } = await h.listen();
    servers.push(server);
    return new URL(url);
  }

  return {
    a,
    b,
    listen,
    /**
     * A proxy in front of both instances that sends each request to the
     * next one in turn (the Host header stays the proxy's, so do upload
     * URLs); `served` lists the port of each request's instance.
     */
    async roundRobin() {
      const ports = [
        Number((await listen(a)).port),
        Number((await listen(b)).port),
      ];
      const served: number[] = [];
      let next = 0;
      const proxy = http.createServer((req, res) => {
        const port = ports[next++ % ports.length];
        served.push(port);
        const upstream = http.request(
          {
            host: '127.0.0.1',
            port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          up => {
            res.writeHead(up.statusCode!, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      servers.push(proxy);
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      const { port } = proxy.address() as AddressInfo;
      return {
        endpoint: `http://127.0.0.1:${port}/api/model-hub/uploads`,
        served,
      };
    },
    close() {
      a.uploads.locker.abandonAll();
      b.uploads.locker.abandonAll();
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
    },
  };
}
