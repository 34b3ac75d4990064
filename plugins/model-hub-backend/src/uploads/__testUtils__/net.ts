import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { AddressInfo, createServer, Server, Socket, connect } from 'node:net';
import { once } from 'node:events';

/**
 * A TCP proxy in front of a server that cuts the connection (both sides)
 * when the bytes forwarded from clients cross each of `cutAt`.
 */
export async function cuttingProxy(targetPort: number, cutAt: number[]) {
  const pending = [...cutAt].sort((a, b) => a - b);
  let forwarded = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer(client => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      forwarded += chunk.length;
      if (pending.length && forwarded >= pending[0]) {
        pending.shift();
        cuts += 1;
        cut();
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    get cuts() {
      return cuts;
    },
    async close() {
      sockets.forEach(s => s.destroy());
      await new Promise(r => server.close(r));
    },
  };
}

/** Writes `size` random bytes to `path` in 1 MiB chunks; returns the SHA-256. */
export async function writeRandomFile(
  path: string,
  size: number,
): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < size; ) {
    const chunk = randomBytes(Math.min(1024 * 1024, size - written));
    hash.update(chunk);
    written += chunk.length;
    if (!out.write(chunk)) {
      await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** Samples the RSS and heap of this process until stopped. */
export function memorySampler(intervalMs = 25) {
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return {
        rssGrowth: peakRss - base.rss,
        heapGrowth: peakHeap - base.heapUsed,
        peakRss,
      };
    },
  };
}
