import { createHash, randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, request, Server } from 'node:http';
import { connect } from 'node:net';
import { AddressInfo } from 'node:net';
import { BodySink, takeSocketBody } from './socketBody';

/** A sink that keeps every byte, offering memory of its own to read into. */
function collectingSink(options: { areaSize?: number; slowEvery?: number }) {
  const chunks: Buffer[] = [];
  let area = Buffer.alloc(options.areaSize ?? 200 * 1024);
  let inPlace = 0;
  let takes = 0;
  const sink: BodySink = {
    area: () => area,
    take: chunk => {
      if (chunk.buffer === area.buffer) {
        inPlace++;
        area = Buffer.alloc(area.length); // the bytes stay where they are
      }
      chunks.push(Buffer.from(chunk));
      takes++;
      if (options.slowEvery && takes % options.slowEvery === 0) {
        return new Promise(resolve => setTimeout(resolve, 5));
      }
      return undefined;
    },
  };
  return {
    sink,
    bytes: () => Buffer.concat(chunks),
    inPlace: () => inPlace,
  };
}

describe('takeSocketBody', () => {
  let server: Server;
  let port: number;
  let handle: (req: IncomingMessage, res: any) => void;

  beforeAll(async () => {
    server = createServer((req, res) => handle(req, res));
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise(resolve => server.close(resolve));
  });

  function post(body: Buffer, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: any; text: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'PATCH',
            path: '/',
            headers: { 'Content-Length': String(body.length), ...headers },
          },
          res => {
            let text = '';
            res.on('data', d => {
              text += d;
            });
            res.on('end', () =>
              resolve({ status: res.statusCode!, headers: res.headers, text }),
            );
          },
        );
        req.on('error', reject);
        // in pieces, so that the server sees many reads
        let offset = 0;
        const write = () => {
          while (offset < body.length) {
            const piece = body.subarray(offset, offset + 300_000);
            offset += piece.length;
            if (!req.write(piece)) {
              req.once('drain', write);
              return;
            }
          }
          req.end();
        };
        write();
      },
    );
  }

  it.each([
    ['keeping up', {}],
    ['pausing now and then', { slowEvery: 7 }],
    ['with small offered areas', { areaSize: 70_000 }],
  ])(
    'reads a large body into the offered memory, %s, and closes the connection after the response',
    async (_, options) => {
      const body = randomBytes(9 * 1024 * 1024 + 12345);
      const c = collectingSink(options);
      let took = false;
      handle = async (req, res) => {
        const taken = takeSocketBody(req, body.length);
        took = Boolean(taken);
        const error = await taken?.pipe(c.sink);
        res.writeHead(error ? 500 : 204, {
          'X-Bytes': String(c.bytes().length),
        });
        res.end();
      };
      const res = await post(body);
      expect(took).toBe(true);
      expect(res.status).toBe(204);
      expect(res.headers.connection).toBe('close');
      expect(c.bytes().length).toBe(body.length);
      expect(createHash('sha256').update(c.bytes()).digest('hex')).toBe(
        createHash('sha256').update(body).digest('hex'),
      );
      expect(c.inPlace()).toBeGreaterThan(0);
    },
  );

  it('leaves small bodies, bodies over the limit and chunked bodies to the parser', async () => {
    const results: boolean[] = [];
    handle = (req, res) => {
      results.push(Boolean(takeSocketBody(req, 4 * 1024 * 1024)));
      req.resume();
      req.on('end', () => res.end('ok'));
    };
    // small
    expect((await post(randomBytes(1000))).text).toBe('ok');
    // larger than the limit
    expect((await post(randomBytes(5 * 1024 * 1024))).text).toBe('ok');
    // chunked
    const chunked = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'PATCH', path: '/' },
        res => {
          let text = '';
          res.on('data', d => {
            text += d;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.write(randomBytes(2 * 1024 * 1024));
      req.end();
    });
    expect(chunked).toBe('ok');
    expect(results).toEqual([false, false, false]);
  });

  it('reads no further than the body, when a second request follows it at once', async () => {
    const size = 3 * 1024 * 1024 + 5;
    const body = randomBytes(size);
    const c = collectingSink({});
    let requests = 0;
    handle = async (req, res) => {
      requests++;
      const error = await takeSocketBody(req, size)?.pipe(c.sink);
      res.writeHead(error ? 500 : 204);
      res.end();
    };
    const socket = connect(port, '127.0.0.1');
    await new Promise(resolve => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', d => {
      answer += d.toString('latin1');
    });
    const closed = new Promise(resolve => socket.once('close', resolve));
    socket.write(
      Buffer.concat([
        Buffer.from(
          `PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
        ),
        body,
        Buffer.from(
          'PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
        ),
      ]),
    );
    await closed;
    expect(c.bytes().equals(body)).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 204 .*\r\nConnection: close\r\n/s);
    // the second request was never parsed: the connection closed first
    expect(requests).toBe(1);
  });

  it('ends with an error when the client goes away, keeping what arrived', async () => {
    const size = 8 * 1024 * 1024;
    const c = collectingSink({});
    const ended = new Promise<unknown>(resolve => {
      handle = async req => {
        const taken = takeSocketBody(req, size);
        resolve(taken ? await taken.pipe(c.sink) : 'not taken');
      };
    });
    const body = randomBytes(3 * 1024 * 1024);
    const socket = connect(port, '127.0.0.1');
    await new Promise(resolve => socket.once('connect', resolve));
    socket.write(
      `PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
    );
    socket.write(body);
    // wait until the server has the bytes, then cut
    for (let i = 0; i < 200 && c.bytes().length < body.length; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    socket.destroy();
    const error = await ended;
    expect(error).toBeInstanceOf(Error);
    expect(c.bytes().equals(body)).toBe(true);
  });
});
