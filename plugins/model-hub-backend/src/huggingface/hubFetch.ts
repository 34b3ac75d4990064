import { httpGet, HttpGetResponse } from './httpGet';
import { HubNetwork, proxyFor } from './proxy';

const MAX_REDIRECTS = 5;
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function urlOf(input: Parameters<typeof fetch>[0]): URL {
  if (typeof input === 'string') {
    return new URL(input);
  }
  if (input instanceof URL) {
    return new URL(input.href);
  }
  return new URL(input.url);
}

/** A web stream over the socket's views, each chunk copied once. */
function bodyStream(res: HttpGetResponse): ReadableStream<Uint8Array> {
  const iterator = res.body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await iterator.next();
        if (done) {
          controller.close();
        } else {
          controller.enqueue(new Uint8Array(value));
        }
      } catch (error) {
        controller.error(error);
      }
    },
    cancel() {
      res.destroy();
    },
  });
}

/**
 * A `fetch` for the Hub's API that honours the proxy settings and extra
 * CAs of `network`: requests that need neither go to the global `fetch`;
 * the others (GET only: the API calls Model Hub makes) go through
 * {@link httpGet}, with a `CONNECT` tunnel for https, following redirects
 * (the `Authorization` header only to the first origin).
 *
 * @internal
 */
export function createNetworkFetch(
  network: HubNetwork,
  baseFetch: typeof fetch = globalThis.fetch,
): typeof fetch {
  return async (input, init) => {
    let url = urlOf(input);
    if (!proxyFor(url, network) && !network.extraCa.length) {
      return baseFetch(input, init);
    }
    const method = (
      init?.method ?? (input instanceof Request ? input.method : 'GET')
    ).toUpperCase();
    if (method !== 'GET') {
      throw new Error(
        `${method} ${url.origin} through a proxy or with extra CAs is not supported`,
      );
    }
    const headers: Record<string, string> = {};
    new Headers(
      init?.headers ?? (input instanceof Request ? input.headers : undefined),
    ).forEach((value, name) => {
      headers[name] = value;
    });
    const origin = url.origin;
    for (let hops = 0; ; hops++) {
      if (url.origin !== origin) {
        delete headers.authorization;
      }
      const res = await httpGet(url, {
        headers,
        signal: init?.signal ?? undefined,
        network,
      });
      const location = res.headers.location;
      if (
        res.statusCode >= 300 &&
        res.statusCode < 400 &&
        location &&
        init?.redirect !== 'manual'
      ) {
        res.destroy();
        if (hops >= MAX_REDIRECTS) {
          throw new TypeError(`Too many redirects from ${origin}`);
        }
        url = new URL(location, url);
        continue;
      }
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        responseHeaders.set(name, value);
      }
      const nullBody = NULL_BODY_STATUSES.has(res.statusCode);
      if (nullBody) {
        res.destroy();
      }
      const response = new Response(nullBody ? null : bodyStream(res), {
        status: res.statusCode,
        statusText: res.statusMessage,
        headers: responseHeaders,
      });
      Object.defineProperty(response, 'url', { value: url.href });
      return response;
    }
  };
}
