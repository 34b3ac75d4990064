import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { ConfigReader } from '@backstage/config';
import {
  bigFileRepo,
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import { HuggingFaceClient } from './HuggingFaceClient';
import { HubNetwork, proxyFor, readHubNetwork } from './proxy';

const REPO = 'acme/big-model';
const FILE = 'model.safetensors';
const SIZE = 3 * 1024 * 1024 + 17;
const CERT = join(__dirname, '__fixtures__', 'test-localhost.crt');
const KEY = join(__dirname, '__fixtures__', 'test-localhost.key');

/** A CONNECT proxy, as in enterprise networks; logs what it was asked. */
async function startProxy(options: { refuse?: boolean } = {}) {
  const requests: string[] = [];
  const server: Server = createServer(client => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        return;
      }
      client.off('data', onData);
      const line = head.subarray(0, head.indexOf('\r\n')).toString();
      requests.push(line);
      const forward = /^GET http:\/\/([^\s:/]+):(\d+)(\/\S*) HTTP\/1\.1$/.exec(
        line,
      );
      if (forward && !options.refuse) {
        // plain http: the request in absolute form, forwarded as it is
        const upstream = connect(Number(forward[2]), forward[1], () => {
          upstream.write(
            Buffer.concat([
              Buffer.from(`GET ${forward[3]} HTTP/1.1`),
              head.subarray(line.length),
            ]),
          );
          upstream.pipe(client);
        });
        upstream.on('error', () => client.destroy());
        return;
      }
      const m = /^CONNECT ([^\s:]+):(\d+) HTTP\/1\.1$/.exec(line);
      if (!m || options.refuse) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
        return;
      }
      const upstream = connect(Number(m[2]), m[1], () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length) {
          upstream.write(rest);
        }
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    requests,
    close: () => new Promise<void>(r => server.close(() => r())),
  };
}

describe('proxy and CA support', () => {
  let hub: MockHub;
  let mock: MockHfServer;
  let tlsServer: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    hub = new MockHub();
    hub.addRepo(bigFileRepo(SIZE, REPO));
    hub.warmUp();
    mock = await createMockHfServer({ hub });
    // https in front of the mock Hub, with a certificate of a private CA
    tlsServer = createTlsServer(
      { key: readFileSync(KEY), cert: readFileSync(CERT) },
      socket => {
        sockets.add(socket);
        const upstream = connect(mock.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
        socket.on('close', () => sockets.delete(socket));
      },
    );
    await new Promise<void>(r => tlsServer.listen(0, '127.0.0.1', r));
    endpoint = `https://localhost:${
      (tlsServer.address() as { port: number }).port
    }`;
  });

  afterAll(async () => {
    sockets.forEach(s => s.destroy());
    await new Promise<void>(r => tlsServer.close(() => r()));
    await mock.close();
  });

  const network = (proxy: URL, noProxy: string[] = []): HubNetwork => ({
    httpsProxy: proxy,
    httpProxy: proxy,
    noProxy,
    extraCa: [readFileSync(CERT, 'utf8')],
  });

  const client = (net: HubNetwork) =>
    new HuggingFaceClient({
      endpoint,
      network: net,
      retry: { maxRetries: 0 },
    });

  async function download(c: HuggingFaceClient) {
    const res = await c.streamFile(REPO, 'main', FILE);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body!) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { status: res.status, size, sha256: hash.digest('hex') };
  }

  it('downloads and lists files through a CONNECT tunnel, trusting the extra CA', async () => {
    const proxy = await startProxy();
    try {
      const c = client(network(proxy.url));
      const files = await c.listFiles(REPO, 'main');
      const entry = files.find(f => f.path === FILE)!;
      expect(entry.size).toBe(SIZE);
      const result = await download(c);
      expect(result).toEqual({
        status: 200,
        size: SIZE,
        sha256: entry.lfs!.sha256,
      });
      const port = new URL(endpoint).port;
      // the API call (fetch) and the file (httpGet) both went through it
      expect(proxy.requests.length).toBeGreaterThanOrEqual(2);
      expect(
        proxy.requests.every(r => r === `CONNECT localhost:${port} HTTP/1.1`),
      ).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('sends plain http requests to the proxy in absolute form', async () => {
    const proxy = await startProxy();
    try {
      const c = new HuggingFaceClient({
        endpoint: mock.url,
        network: { ...network(proxy.url), extraCa: [] },
        retry: { maxRetries: 0 },
      });
      const files = await c.listFiles(REPO, 'main');
      const result = await download(c);
      expect(result.sha256).toBe(files.find(f => f.path === FILE)!.lfs!.sha256);
      expect(proxy.requests).toContain(
        `GET ${mock.url}/${REPO}/resolve/main/${FILE} HTTP/1.1`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('bypasses the proxy for hosts in NO_PROXY', async () => {
    const proxy = await startProxy();
    try {
      const c = client(network(proxy.url, ['example.com', '.localhost']));
      const files = await c.listFiles(REPO, 'main');
      const result = await download(c);
      expect(result.sha256).toBe(files.find(f => f.path === FILE)!.lfs!.sha256);
      expect(proxy.requests).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('fails clearly when the proxy refuses or the CA is not trusted', async () => {
    const refusing = await startProxy({ refuse: true });
    try {
      await expect(download(client(network(refusing.url)))).rejects.toThrow(
        /refused the tunnel to localhost:\d+: 407 Proxy Authentication Required/,
      );
    } finally {
      await refusing.close();
    }
    const proxy = await startProxy();
    try {
      const untrusted = { ...network(proxy.url), extraCa: [] };
      await expect(download(client(untrusted))).rejects.toThrow(/certificate/i);
      expect(proxy.requests).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('reads proxies from config or the environment, and matches NO_PROXY', () => {
    const env = {
      HTTPS_PROXY: 'http://proxy.corp:3128',
      http_proxy: 'proxy.corp:8080',
      NO_PROXY: 'internal.corp, .svc.local,10.0.0.5,mirror:8443',
      NODE_EXTRA_CA_CERTS: CERT,
    };
    const fromEnv = readHubNetwork(new ConfigReader({}), env);
    expect(fromEnv.httpsProxy?.href).toBe('http://proxy.corp:3128/');
    expect(fromEnv.httpProxy?.href).toBe('http://proxy.corp:8080/');
    expect(fromEnv.extraCa).toHaveLength(1);
    const via = (url: string) => proxyFor(new URL(url), fromEnv)?.host;
    expect(via('https://huggingface.co/api/models')).toBe('proxy.corp:3128');
    expect(via('http://cdn.example/x')).toBe('proxy.corp:8080');
    expect(via('https://internal.corp/x')).toBeUndefined();
    expect(via('https://a.b.svc.local/x')).toBeUndefined();
    expect(via('https://svc.local/x')).toBeUndefined();
    expect(via('http://10.0.0.5/x')).toBeUndefined();
    expect(via('https://mirror:8443/x')).toBeUndefined();
    expect(via('https://mirror/x')).toBe('proxy.corp:3128');
    expect(via('https://notinternal.corp/x')).toBe('proxy.corp:3128');

    const fromConfig = readHubNetwork(
      new ConfigReader({
        modelHub: {
          huggingface: {
            proxy: { https: 'https://other:443', noProxy: ['*'] },
            extraCaCerts: [],
          },
        },
      }),
      env,
    );
    expect(fromConfig.httpsProxy?.href).toBe('https://other/');
    expect(fromConfig.extraCa).toEqual([]);
    expect(
      proxyFor(new URL('https://huggingface.co'), fromConfig),
    ).toBeUndefined();
    expect(() =>
      readHubNetwork(
        new ConfigReader({
          modelHub: { huggingface: { proxy: { https: 'socks5://x:1' } } },
        }),
        {},
      ),
    ).toThrow("The https proxy must be an http(s) URL, got 'socks5://x:1'");
  });
});
