import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import type { Config } from '@backstage/config';

/**
 * How outbound requests to the Hub reach it: proxies by scheme, hosts that
 * bypass them, and extra trusted CA certificates.
 *
 * @internal
 */
export type HubNetwork = {
  /** Proxy for `https:` URLs (`HTTPS_PROXY`). */
  httpsProxy?: URL;
  /** Proxy for `http:` URLs (`HTTP_PROXY`). */
  httpProxy?: URL;
  /** `NO_PROXY` entries: `*`, hosts, `.domain` suffixes, optional `:port`. */
  noProxy: string[];
  /** PEM certificates trusted in addition to Node's root store. */
  extraCa: string[];
};

function proxyUrl(value: string | undefined, what: string): URL | undefined {
  if (!value) {
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    throw new Error(`${what} is not a URL: '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${what} must be an http(s) URL, got '${value}'`);
  }
  return url;
}

/** Splits PEM bundles into certificates. */
function pemCertificates(text: string): string[] {
  return (
    text.match(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
    ) ?? []
  );
}

/**
 * Reads `modelHub.huggingface.proxy` (`https`, `http`, `noProxy`) and
 * `modelHub.huggingface.extraCaCerts` (PEM files); unset keys fall back to
 * `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (or their lower-case forms) and
 * `NODE_EXTRA_CA_CERTS`.
 *
 * @internal
 */
export function readHubNetwork(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): HubNetwork {
  const hf = config.getOptionalConfig('modelHub.huggingface');
  const proxy = hf?.getOptionalConfig('proxy');
  const fromEnv = (name: string) => env[name] ?? env[name.toLowerCase()];
  const noProxy =
    proxy?.getOptionalStringArray('noProxy') ??
    (fromEnv('NO_PROXY') ?? '').split(',');
  const caFiles = hf?.getOptionalStringArray('extraCaCerts') ?? [
    ...(env.NODE_EXTRA_CA_CERTS ? [env.NODE_EXTRA_CA_CERTS] : []),
  ];
  const extraCa = caFiles.flatMap(file => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(
        `modelHub.huggingface.extraCaCerts: cannot read ${file}: ${
          (error as Error).message
        }`,
      );
    }
    const certs = pemCertificates(text);
    if (!certs.length) {
      throw new Error(
        `modelHub.huggingface.extraCaCerts: no PEM certificate in ${file}`,
      );
    }
    return certs;
  });
  return {
    httpsProxy: proxyUrl(
      proxy?.getOptionalString('https') ?? fromEnv('HTTPS_PROXY'),
      'The https proxy',
    ),
    httpProxy: proxyUrl(
      proxy?.getOptionalString('http') ?? fromEnv('HTTP_PROXY'),
      'The http proxy',
    ),
    noProxy: noProxy.map(e => e.trim().toLowerCase()).filter(Boolean),
    extraCa,
  };
}

/** Whether a `NO_PROXY` list exempts a URL from the proxy. */
function bypasses(url: URL, noProxy: string[]): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some(entry => {
    if (entry === '*') {
      return true;
    }
    let name = entry;
    let entryPort: string | undefined;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !isIP(entry)) {
      name = m[1];
      entryPort = m[2];
    }
    name = name.replace(/^\[(.*)\]$/, '$1');
    if (entryPort && entryPort !== port) {
      return false;
    }
    if (isIP(host) || isIP(name)) {
      return host === name;
    }
    const suffix = name.replace(/^\*?\./, '');
    return host === suffix || host.endsWith(`.${suffix}`);
  });
}

/** The proxy a request to `url` goes through, if any. @internal */
export function proxyFor(
  url: URL,
  network: HubNetwork | undefined,
): URL | undefined {
  if (!network) {
    return undefined;
  }
  const proxy =
    url.protocol === 'https:' ? network.httpsProxy : network.httpProxy;
  if (!proxy || bypasses(url, network.noProxy)) {
    return undefined;
  }
  return proxy;
}

/** The trusted CAs: Node's roots plus the extra ones (undefined: defaults). @internal */
export function trustedCa(
  network: HubNetwork | undefined,
): string[] | undefined {
  if (!network?.extraCa.length) {
    return undefined;
  }
  return [...rootCertificates, ...network.extraCa];
}

/** `Proxy-Authorization` for a proxy URL with credentials. @internal */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username) {
    return undefined;
  }
  const user = decodeURIComponent(proxy.username);
  const password = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Connects to the proxy itself (TLS for an `https:` proxy). @internal */
export function connectToProxy(
  proxy: URL,
  network: HubNetwork | undefined,
  onread?: { buffer: Buffer; callback: (n: number, b: Uint8Array) => boolean },
): Socket {
  const host = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
  if (proxy.protocol === 'https:') {
    const port = Number(proxy.port) || 443;
    return tlsConnect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      ca: trustedCa(network),
      ...(onread && { onread }),
    });
  }
  const port = Number(proxy.port) || 80;
  return onread
    ? netConnect({ host, port, onread })
    : netConnect({ host, port });
}

const MAX_CONNECT_HEAD = 16 * 1024;

/**
 * Opens a tunnel to `host:port` through an HTTP proxy (`CONNECT`); resolves
 * with the socket once the proxy answers 2xx, ready for TLS to the target.
 *
 * @internal
 */
export function openTunnel(
  proxy: URL,
  target: { host: string; port: number },
  network: HubNetwork | undefined,
  signal?: AbortSignal,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectToProxy(proxy, network);
    let head = Buffer.alloc(0);
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal!.reason);
    const onError = (error: Error) =>
      fail(
        new Error(
          `The proxy ${proxy.host} could not be reached: ${error.message}`,
        ),
      );
    const onClose = () =>
      fail(new Error(`The proxy ${proxy.host} closed the tunnel`));
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_CONNECT_HEAD) {
          fail(new Error(`The proxy ${proxy.host} sent an oversized answer`));
        }
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?\r\n/.exec(
        head.subarray(0, end + 2).toString('latin1'),
      );
      if (!status || status[1][0] !== '2') {
        fail(
          new Error(
            `The proxy ${proxy.host} refused the tunnel to ${target.host}:${
              target.port
            }: ${
              status
                ? `${status[1]} ${status[2] ?? ''}`.trim()
                : 'no HTTP answer'
            }`,
          ),
        );
        return;
      }
      cleanup();
      socket.pause();
      const rest = head.subarray(end + 4);
      if (rest.length) {
        socket.unshift(rest);
      }
      resolve(socket);
    };
    function cleanup() {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    const authority = `${
      isIP(target.host) === 6 ? `[${target.host}]` : target.host
    }:${target.port}`;
    const auth = proxyAuthorization(proxy);
    socket.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${
        auth ? `Proxy-Authorization: ${auth}\r\n` : ''
      }\r\n`,
    );
  });
}
