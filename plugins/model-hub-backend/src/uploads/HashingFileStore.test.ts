import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ERRORS } from '@tus/server';
import { HashingFileStore } from './HashingFileStore';
import { UploadSessionsStore } from './UploadSessionsStore';

/** A deterministic pseudo-random byte buffer. */
function noise(size: number, seed = 11): Buffer {
  const out = Buffer.alloc(size);
  let s = seed;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = s >>> 16;
  }
  return out;
}

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < data.length; p += size) {
    out.push(data.subarray(p, p + size));
  }
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('HashingFileStore.writeFrom', () => {
  let dir: string;
  let store: HashingFileStore;
  const durable = new Map<string, number>();
  let n = 0;
  const newId = async () => {
    const id = (++n).toString(16).padStart(32, '0');
    await fs.writeFile(join(dir, id), '');
    return id;
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'hashing-store-'));
    // the two calls writeFrom makes of the sessions store
    const sessions = {
      setDurableOffset: async (id: string, offset: number) => {
        durable.set(id, offset);
      },
      getSession: async (id: string) => ({
        durableOffset: durable.get(id) ?? 0,
      }),
    } as unknown as UploadSessionsStore;
    store = new HashingFileStore({
      directory: dir,
      sessions,
      expirationMs: 60_000,
      syncIntervalBytes: 3 * 1024 * 1024,
    });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes and hashes a body of many chunks, across appends', async () => {
    const data = noise(13 * 1024 * 1024 + 5);
    const id = await newId();
    const half = 6 * 1024 * 1024 + 1;
    const first = await store.writeFrom(
      Readable.from(chunks(data.subarray(0, half), 65536)),
      id,
      0,
      data.length,
    );
    expect(first).toBe(half);
    const end = await store.writeFrom(
      Readable.from(chunks(data.subarray(half), 16384)),
      id,
      half,
      data.length - half,
    );
    expect(end).toBe(data.length);
    expect(durable.get(id)).toBe(data.length);
    expect(await store.digest(id, data.length)).toBe(sha256(data));
    expect((await fs.readFile(join(dir, id))).equals(data)).toBe(true);
  });

  it('keeps the bytes up to the limit and fails with 413 past it', async () => {
    const data = noise(5 * 1024 * 1024, 3);
    const id = await newId();
    const limit = 3 * 1024 * 1024 + 77;
    const body = Readable.from(chunks(data, 65536));
    await expect(store.writeFrom(body, id, 0, limit)).rejects.toBe(
      ERRORS.ERR_SIZE_EXCEEDED,
    );
    expect(body.destroyed).toBe(true);
    expect(durable.get(id)).toBe(limit);
    expect(await store.digest(id, limit)).toBe(sha256(data.subarray(0, limit)));
    expect((await fs.stat(join(dir, id))).size).toBe(limit);
  });

  it('keeps what arrived before the body failed, and fails with its error', async () => {
    const data = noise(2 * 1024 * 1024 + 9, 5);
    const id = await newId();
    const body = new PassThrough();
    const write = store.writeFrom(body, id, 0, 10 * 1024 * 1024);
    for (const c of chunks(data, 100_000)) {
      body.write(c);
    }
    await new Promise(r => setTimeout(r, 50));
    body.destroy(new Error('connection reset'));
    await expect(write).rejects.toThrow('connection reset');
    expect(durable.get(id)).toBe(data.length);
    expect(await store.digest(id, data.length)).toBe(sha256(data));
  });

  it('ends a body closed before its end as an error, keeping its bytes', async () => {
    const data = noise(300_000, 9);
    const id = await newId();
    const body = new PassThrough();
    const write = store.writeFrom(body, id, 0, 10 * 1024 * 1024);
    body.write(data);
    await new Promise(r => setTimeout(r, 50));
    body.destroy(); // as a newer request taking over does
    await expect(write).rejects.toMatchObject({
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
    expect(await store.digest(id, data.length)).toBe(sha256(data));
  });

  it('reads a large HTTP request body from the socket, after what the parser took, and closes the connection', async () => {
    const data = noise(7 * 1024 * 1024 + 333, 13);
    const id = await newId();
    let written: number | undefined;
    const server = createServer(async (req, res) => {
      // after a wait (authorization, lock), as the PATCH handler does: the
      // parser has taken the first bytes meanwhile
      await new Promise(r => setTimeout(r, 20));
      written = await store.writeFrom(req, id, 0, data.length);
      res.writeHead(204).end();
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const connection = await new Promise<string | undefined>(
        (resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              method: 'PATCH',
              headers: { 'Content-Length': String(data.length) },
            },
            res => {
              res.resume();
              res.on('end', () => resolve(res.headers.connection));
            },
          );
          req.on('error', reject);
          for (const c of chunks(data, 1024 * 1024)) {
            req.write(c);
          }
          req.end();
        },
      );
      // the parser never saw the body's end: no second request on it
      expect(connection).toBe('close');
    } finally {
      await new Promise(r => server.close(r));
    }
    expect(written).toBe(data.length);
    expect(durable.get(id)).toBe(data.length);
    expect(await store.digest(id, data.length)).toBe(sha256(data));
    expect((await fs.readFile(join(dir, id))).equals(data)).toBe(true);
  });
});
