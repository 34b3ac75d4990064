/*
 * A real HTTP server (node:http) serving a MockHub.
 */
import http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { handleHubRequest } from './core';
import { MockHub } from './hub';

export interface MockHfServerOptions {
  hub: MockHub;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default `127.0.0.1`). */
  host?: string;
  /**
   * Public base URL used for absolute `Link` headers (default: the server's
   * own `http://host:port`). Set it when the mock is reached through a proxy.
   */
  publicUrl?: string;
  /**
   * Paces every response body to at most this many bytes per second (each
   * response on its own, as a CDN that throttles per connection). Default
   * unlimited.
   */
  rateLimitBytesPerSec?: number;
}

export interface MockHfServer {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:5555`; use it as `hubUrl`. */
  url: string;
  port: number;
  hub: MockHub;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function waitForDrain(res: http.ServerResponse): Promise<void> {
  return new Promise(resolve => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Starts an HTTP server for the hub. */
export async function createMockHfServer(
  options: MockHfServerOptions,
): Promise<MockHfServer> {
  const { hub } = options;
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  let baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? '';

  const server = http.createServer(async (req, res) => {
    try {
      const body =
        req.method === 'GET' || req.method === 'HEAD'
          ? undefined
          : await readBody(req);
      const hostHeader = `${host.includes(':') ? `[${host}]` : host}:${
        (server.address() as AddressInfo).port
      }`;
      const result = await handleHubRequest(
        hub,
        {
          method: req.method ?? 'GET',
          url: `http://${hostHeader}${req.url ?? '/'}`,
          headers: req.headers,
          body,
        },
        { baseUrl },
      );
      if (result.resetConnection) {
        req.socket.destroy();
        return;
      }
      res.writeHead(result.status, result.headers);
      if (result.body) {
        const rate = options.rateLimitBytesPerSec;
        const started = performance.now();
        let sent = 0;
        for (const chunk of result.body) {
          if (res.destroyed) {
            return;
          }
          if (!res.write(chunk)) {
            await waitForDrain(res);
          }
          sent += chunk.length;
          if (rate) {
            const ahead = (sent / rate) * 1000 - (performance.now() - started);
            if (ahead > 1) {
              await new Promise(resolve => setTimeout(resolve, ahead));
            }
          }
        }
      }
      if (result.abortAfterBody) {
        // make sure what was written reaches the client, then cut
        res.flushHeaders();
        await new Promise(resolve => setTimeout(resolve, 20));
        req.socket.destroy();
        return;
      }
      res.end();
    } catch (e) {
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
      }
      res.end(String(e));
    }
  });
  server.on('connection', socket => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!baseUrl) {
    baseUrl = url;
  }

  return {
    url: options.publicUrl?.replace(/\/+$/, '') ?? url,
    port,
    hub,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(err => (err ? reject(err) : resolve()));
      }),
  };
}
