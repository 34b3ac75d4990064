import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpGet, HttpStreamError } from './httpGet';

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: net.Server) {
  await new Promise(resolve => server.close(resolve));
}

/** Reads the whole body, copying each view (they are reused). */
async function readBody(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** A server that writes raw bytes (for malformed responses). */
async function rawServer(
  respond: (socket: net.Socket) => void,
): Promise<{ origin: string; server: net.Server; requests: string[] }> {
  const requests: string[] = [];
  const server = net.createServer(socket => {
    let head = '';
    socket.on('data', d => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        requests.push(head);
        respond(socket);
      }
    });
    socket.on('error', () => {});
  });
  return { origin: `http://${await listen(server)}`, server, requests };
}

describe('httpGet', () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  let server: http.Server;
  let origin: string;
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers);
      if (req.url === '/chunked') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        // many odd-sized chunks: framing lands anywhere in a read
        let pos = 0;
        let i = 0;
        const step = () => {
          while (pos < data.length) {
            const n = Math.min(data.length - pos, 1 + ((i++ * 104729) % 70000));
            const ok = res.write(data.subarray(pos, pos + n));
            pos += n;
            if (!ok) {
              res.once('drain', step);
              return;
            }
          }
          res.end();
        };
        step();
        return;
      }
      if (req.url === '/range') {
        const m = /bytes=(\d+)-/.exec(req.headers.range ?? '')!;
        const start = Number(m[1]);
        res.writeHead(206, {
          'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}`,
          'Content-Length': data.length - start,
          'X-Multi': ['a', 'b'],
        });
        res.end(data.subarray(start));
        return;
      }
      if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: '/file' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Length': data.length, ETag: '"e"' });
      res.end(data);
    });
    origin = `http://${await listen(server)}`;
  });

  afterAll(async () => {
    await close(server);
  });

  it('streams a Content-Length body as views of one read buffer', async () => {
    const res = await httpGet(new URL(`${origin}/file?x=1`), {
      headers: { Authorization: 'Bearer t', 'Accept-Encoding': 'identity' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.statusMessage).toBe('OK');
    expect(res.headers.etag).toBe('"e"');
    expect(res.headers['content-length']).toBe(String(data.length));
    const hash = createHash('sha256');
    let size = 0;
    const buffers = new Set<ArrayBuffer>();
    for await (const chunk of res.body) {
      hash.update(chunk);
      size += chunk.length;
      buffers.add(chunk.buffer as ArrayBuffer);
    }
    expect(size).toBe(data.length);
    expect(hash.digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    // no buffer per read: at most the head's copy and the reused buffer
    expect(buffers.size).toBeLessThanOrEqual(2);
    expect(seen[seen.length - 1]).toMatchObject({
      authorization: 'Bearer t',
      'accept-encoding': 'identity',
      connection: 'close',
      host: origin.slice('http://'.length),
    });
  });

  it.each(['/file', '/chunked'])(
    'reads a body into memory its consumer offers (%s)',
    async path => {
      const res = await httpGet(new URL(`${origin}${path}`));
      const memory = Buffer.alloc(data.length + 1024 * 1024);
      let position = 0;
      let inPlace = 0;
      let offers = 0;
      res.body.readInto(queued => {
        offers++;
        // every other time nothing: the body's own buffer
        return offers % 2 ? memory.subarray(position + queued) : undefined;
      });
      for await (const chunk of res.body) {
        if (
          chunk.buffer === memory.buffer &&
          chunk.byteOffset === memory.byteOffset + position
        ) {
          inPlace++;
        } else {
          chunk.copy(memory, position);
        }
        position += chunk.length;
      }
      expect(position).toBe(data.length);
      expect(memory.subarray(0, position).equals(data)).toBe(true);
      // chunked framing: always through the body's own buffer
      expect(inPlace > 0).toBe(path === '/file');
    },
  );

  it('does not time out while the consumer is slow, only while it waits', async () => {
    const res = await httpGet(new URL(`${origin}/file`), {
      idleTimeoutMs: 100,
    });
    let size = 0;
    let steps = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (steps++ < 2) {
        await new Promise(resolve => setTimeout(resolve, 300));
      }
    }
    expect(size).toBe(data.length);
  });

  it('decodes a chunked body whose framing falls anywhere in the reads', async () => {
    const res = await httpGet(new URL(`${origin}/chunked`));
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect((await readBody(res.body)).equals(data)).toBe(true);
  });

  it('passes ranges through and joins repeated headers', async () => {
    const res = await httpGet(new URL(`${origin}/range`), {
      headers: { Range: 'bytes=1000-' },
    });
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(
      `bytes 1000-${data.length - 1}/${data.length}`,
    );
    expect(res.headers['x-multi']).toBe('a, b');
    expect((await readBody(res.body)).equals(data.subarray(1000))).toBe(true);
  });

  it('answers redirects and empty responses without a body', async () => {
    const redirect = await httpGet(new URL(`${origin}/redirect`));
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('/file');
    redirect.destroy();
    const empty = await httpGet(new URL(`${origin}/empty`));
    expect(empty.statusCode).toBe(204);
    expect((await readBody(empty.body)).length).toBe(0);
  });

  it('stops early when the consumer breaks off', async () => {
    const res = await httpGet(new URL(`${origin}/file`));
    let first = 0;
    for await (const chunk of res.body) {
      first = chunk.length;
      break;
    }
    expect(first).toBeGreaterThan(0);
    // the server still answers the next request
    const again = await httpGet(new URL(`${origin}/file`));
    expect((await readBody(again.body)).length).toBe(data.length);
  });

  it('throws when the body ends before its Content-Length', async () => {
    const raw = await rawServer(socket => {
      socket.end(
        `HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(400)}`,
      );
    });
    try {
      const res = await httpGet(new URL(`${raw.origin}/f`));
      await expect(readBody(res.body)).rejects.toThrow(
        /closed 600 bytes before the end of the body/,
      );
    } finally {
      await close(raw.server);
    }
  });

  it('throws when a chunked body is cut or malformed', async () => {
    const cut = await rawServer(socket => {
      socket.end(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc',
      );
    });
    const bad = await rawServer(socket => {
      socket.end(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      );
    });
    try {
      const res = await httpGet(new URL(`${cut.origin}/f`));
      await expect(readBody(res.body)).rejects.toThrow(
        /closed inside a chunked body/,
      );
      const res2 = await httpGet(new URL(`${bad.origin}/f`));
      await expect(readBody(res2.body)).rejects.toThrow(
        "Invalid chunk size 'zz'",
      );
    } finally {
      await close(cut.server);
      await close(bad.server);
    }
  });

  it('reads a body delimited by the end of the connection, and trailers', async () => {
    const raw = await rawServer(socket => {
      socket.end('HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil the end');
    });
    const trailers = await rawServer(socket => {
      socket.end(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n',
      );
    });
    try {
      const res = await httpGet(new URL(`${raw.origin}/f`));
      expect((await readBody(res.body)).toString()).toBe('until the end');
      const res2 = await httpGet(new URL(`${trailers.origin}/f`));
      expect((await readBody(res2.body)).toString()).toBe('abc');
    } finally {
      await close(raw.server);
      await close(trailers.server);
    }
  });

  it('rejects malformed and oversized response heads', async () => {
    const garbage = await rawServer(socket =>
      socket.end('SSH-2.0-OpenSSH\r\n\r\n'),
    );
    const huge = await rawServer(socket => {
      socket.write('HTTP/1.1 200 OK\r\n');
      socket.end(`X-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    });
    const badLength = await rawServer(socket =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx'),
    );
    const silent = await rawServer(() => {});
    try {
      await expect(httpGet(new URL(`${garbage.origin}/f`))).rejects.toThrow(
        "Invalid HTTP status line 'SSH-2.0-OpenSSH'",
      );
      await expect(httpGet(new URL(`${huge.origin}/f`))).rejects.toThrow(
        /larger than 65536 bytes/,
      );
      await expect(httpGet(new URL(`${badLength.origin}/f`))).rejects.toThrow(
        "Invalid Content-Length '1, 2'",
      );
      await expect(
        httpGet(new URL(`${silent.origin}/f`), { idleTimeoutMs: 200 }),
      ).rejects.toThrow(/No data from .* for 0 s/);
    } finally {
      for (const s of [garbage, huge, badLength, silent]) {
        await close(s.server);
      }
    }
  });

  it('fails clearly when nobody listens, when aborted, and on bad input', async () => {
    // a port that was free a moment ago
    const probe = net.createServer();
    await new Promise<void>(r => probe.listen(0, '127.0.0.1', r));
    const freePort = (probe.address() as AddressInfo).port;
    await close(probe);
    await expect(
      httpGet(new URL(`http://127.0.0.1:${freePort}/f`)),
    ).rejects.toThrow(/The connection to .* failed: connect ECONNREFUSED/);

    const controller = new AbortController();
    const silent = await rawServer(() => {});
    try {
      const pending = httpGet(new URL(`${silent.origin}/f`), {
        signal: controller.signal,
      });
      controller.abort(new Error('stop'));
      await expect(pending).rejects.toThrow('stop');
    } finally {
      await close(silent.server);
    }
    await expect(httpGet(new URL('ftp://example.com/f'))).rejects.toThrow(
      HttpStreamError,
    );
    await expect(
      httpGet(new URL(`${origin}/f`), { headers: { 'X-A': 'a\r\nX-B: b' } }),
    ).rejects.toThrow("Invalid request header 'X-A'");
  });

  describe('over TLS', () => {
    let dir: string;
    let tlsServer: https.Server | undefined;
    let cert: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'model-hub-tls-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
            '-days',
            '1',
            '-subj',
            '/CN=localhost',
            '-addext',
            'subjectAltName=DNS:localhost,IP:127.0.0.1',
          ],
          { stdio: 'ignore' },
        );
      } catch {
        return; // no openssl: the TLS cases are skipped below
      }
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      tlsServer = https.createServer(
        { key: readFileSync(join(dir, 'key.pem')), cert },
        (_req, res) => {
          res.writeHead(200, { 'Content-Length': data.length });
          res.end(data);
        },
      );
      await listen(tlsServer);
    });

    afterAll(async () => {
      if (tlsServer) {
        await close(tlsServer);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('downloads over https with a trusted certificate and refuses an untrusted one', async () => {
      if (!tlsServer) {
        return;
      }
      const port = (tlsServer.address() as AddressInfo).port;
      const url = new URL(`https://localhost:${port}/f`);
      const res = await httpGet(url, { tls: { ca: cert } });
      expect(res.statusCode).toBe(200);
      expect((await readBody(res.body)).equals(data)).toBe(true);
      // the decrypted bytes go into the memory the consumer offers too
      const again = await httpGet(url, { tls: { ca: cert } });
      const memory = Buffer.alloc(data.length + 65536);
      let position = 0;
      let inPlace = 0;
      again.body.readInto(queued => memory.subarray(position + queued));
      for await (const chunk of again.body) {
        if (
          chunk.buffer === memory.buffer &&
          chunk.byteOffset === memory.byteOffset + position
        ) {
          inPlace++;
        } else {
          chunk.copy(memory, position);
        }
        position += chunk.length;
      }
      expect(memory.subarray(0, position).equals(data)).toBe(true);
      expect(inPlace).toBeGreaterThan(0);
      await expect(httpGet(url)).rejects.toThrow(
        /The connection to https:\/\/localhost:\d+ failed: self[- ]signed certificate/,
      );
    });
  });
});
