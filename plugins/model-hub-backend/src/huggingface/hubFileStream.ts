import { RetryableJobError } from '../jobs/JobWorker';
import type { FileResponse } from '../jobs/types';
import { httpGet, HttpGetResponse } from './httpGet';
import { HuggingFaceClientOptions } from './hubClientTypes';
import { HubNetwork } from './proxy';
import {
  checkHubResponse,
  parseRetryAfter,
  RetryPolicy,
} from './retryingFetch';

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** What streaming a file from the Hub needs of its client. @internal */
export type HubStreamOptions = {
  endpoint: string;
  token?: string;
  network?: HubNetwork;
  policy: RetryPolicy;
  onRetry?: HuggingFaceClientOptions['onRetry'];
};

/**
 * Streams a file (or a range of it) from its download URL with
 * {@link httpGet}: redirects followed (the token is only sent to the
 * endpoint's origin), 429/5xx and network failures retried like every other
 * request, Hub errors turned into clear errors.
 *
 * @internal
 */
export async function streamHubFile(
  hub: HubStreamOptions,
  repoId: string,
  /** The file's download URL. */
  start: string,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<FileResponse> {
  const origin = new URL(hub.endpoint).origin;
  for (let attempt = 0; ; attempt++) {
    let url = new URL(start);
    let res: HttpGetResponse | undefined;
    let failure: unknown;
    try {
      for (let hops = 0; ; hops++) {
        const headers: Record<string, string> = {
          'Accept-Encoding': 'identity',
          ...init.headers,
        };
        if (hub.token && url.origin === origin) {
          headers.Authorization = `Bearer ${hub.token}`;
        }
        res = await httpGet(url, {
          headers,
          signal: init.signal,
          network: hub.network,
        });
        const location = res.headers.location;
        if (res.statusCode >= 300 && res.statusCode < 400 && location) {
          res.destroy();
          if (hops >= 5) {
            throw new Error(`Too many redirects for ${start}`);
          }
          url = new URL(location, url);
          continue;
        }
        break;
      }
    } catch (error) {
      if (init.signal?.aborted) {
        throw error;
      }
      failure = error;
      res = undefined;
    }
    const status = res?.statusCode ?? 0;
    if (res && !RETRY_STATUSES.has(status)) {
      const message = res.statusMessage;
      const responseHeaders = res.headers;
      const getHeader = (name: string) =>
        responseHeaders[name.toLowerCase()] ?? null;
      if (status >= 400) {
        // the error document, up to 64 KiB
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of res.body) {
          chunks.push(Buffer.from(c)); // a view of the read buffer
          size += c.length;
          if (size > 65536) {
            res.destroy();
            break;
          }
        }
        const headers = new Headers(responseHeaders);
        await checkHubResponse(
          new Response(Buffer.concat(chunks), {
            status,
            statusText: message,
            headers,
          }),
          `Repository ${repoId}`,
        );
        return {
          status,
          statusText: message,
          headers: { get: getHeader },
          body: null,
          cancel: async () => {},
        };
      }
      const response = res;
      const body = res.body;
      return {
        status,
        statusText: message,
        headers: { get: getHeader },
        body,
        cancel: async () => {
          response.destroy();
        },
      };
    }
    const retryAfter = res
      ? parseRetryAfter(res.headers['retry-after'] ?? null)
      : undefined;
    res?.destroy();
    const backoff = Math.round(
      hub.policy.baseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5),
    );
    const delayMs = retryAfter ?? Math.min(backoff, hub.policy.maxDelayMs);
    const reason = res
      ? `Hugging Face answered ${status} ${res.statusMessage}`.trim()
      : `Request to Hugging Face failed: ${(failure as Error)?.message}`;
    if (attempt >= hub.policy.maxRetries || delayMs > hub.policy.maxDelayMs) {
      throw new RetryableJobError(
        `${reason} for ${start} after ${attempt + 1} attempts${
          retryAfter !== undefined
            ? `; Retry-After ${Math.ceil(retryAfter / 1000)} s`
            : ''
        }`,
        retryAfter ?? delayMs,
      );
    }
    hub.onRetry?.({ url: start, status: res ? status : undefined, delayMs });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delayMs);
      init.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(init.signal!.reason);
        },
        { once: true },
      );
    });
  }
}
