import { NotAllowedError, NotFoundError } from '@backstage/errors';
import { RetryableJobError } from '../jobs/JobWorker';

/** How requests to the Hub are retried. @internal */
export type RetryPolicy = {
  /** Retries after the first attempt. Default 5. */
  maxRetries: number;
  /** First backoff delay without `Retry-After`; doubles per retry. Default 1 s. */
  baseDelayMs: number;
  /**
   * Longest wait inside one call. A longer `Retry-After` ends the call with
   * a {@link RetryableJobError} so that the job is queued again instead.
   * Default 60 s.
   */
  maxDelayMs: number;
};

/** @internal */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 5,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
};

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. @internal */
export function parseRetryAfter(
  value: string | null,
  now = Date.now(),
): number | undefined {
  if (!value) {
    return undefined;
  }
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) {
    return Math.round(Number(value) * 1000);
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: NodeJS.Timeout | undefined = undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Turns Hub error answers into errors with a clear message: gated and
 * forbidden repos into `NotAllowedError`, missing repos and revisions into
 * `NotFoundError`. Missing files (`EntryNotFound`) and successes pass.
 *
 * @internal
 */
export async function checkHubResponse(
  response: Response,
  what: string,
): Promise<Response> {
  if (response.ok || response.status === 304 || response.status === 206) {
    return response;
  }
  const code = response.headers.get('x-error-code') ?? undefined;
  const message =
    response.headers.get('x-error-message') ??
    (await response
      .clone()
      .json()
      .then(b => (typeof b?.error === 'string' ? b.error : undefined))
      .catch(() => undefined)) ??
    response.statusText;
  if (code === 'EntryNotFound') {
    return response;
  }
  if (code === 'GatedRepo') {
    throw new NotAllowedError(
      `${what} is a gated repository and the configured Hugging Face token has no access to it (${response.status}): ${message}. Accept the conditions on the Hub with the account of modelHub.huggingface.token.`,
    );
  }
  if (code === 'RepoNotFound' || (response.status === 401 && !code)) {
    throw new NotFoundError(
      `${what} was not found on the Hub, or is private and the configured token cannot see it (${response.status}): ${message}`,
    );
  }
  if (code === 'RevisionNotFound') {
    throw new NotFoundError(`${what}: revision not found: ${message}`);
  }
  if (response.status === 403) {
    throw new NotAllowedError(`${what}: access denied (403): ${message}`);
  }
  if (response.status === 404) {
    throw new NotFoundError(`${what}: not found (404): ${message}`);
  }
  return response;
}

/**
 * A `fetch` that retries rate limits (429), server errors (5xx) and network
 * failures with exponential backoff, honouring `Retry-After`. When retries
 * are exhausted, or the server asks to wait longer than `maxDelayMs`, it
 * throws a {@link RetryableJobError} carrying the wait.
 *
 * @internal
 */
export function createRetryingFetch(options: {
  fetch?: typeof fetch;
  policy?: Partial<RetryPolicy>;
  headers?: Record<string, string>;
  onRetry?: (info: { url: string; status?: number; delayMs: number }) => void;
}): typeof fetch {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const baseFetch = options.fetch ?? globalThis.fetch;
  return async (input, init) => {
    let url: string;
    if (typeof input === 'string') {
      url = input;
    } else if (input instanceof URL) {
      url = input.href;
    } else {
      url = input.url;
    }
    const headers = new Headers(
      init?.headers ?? (input instanceof Request ? input.headers : undefined),
    );
    for (const [k, v] of Object.entries(options.headers ?? {})) {
      if (!headers.has(k)) {
        headers.set(k, v);
      }
    }
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await baseFetch(url, { ...init, headers });
      } catch (error) {
        if (init?.signal?.aborted) {
          throw error;
        }
        failure = error;
      }
      if (response && !RETRY_STATUSES.has(response.status)) {
        return response;
      }
      const retryAfter = response
        ? parseRetryAfter(response.headers.get('retry-after'))
        : undefined;
      const backoff = Math.round(
        policy.baseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5),
      );
      const delayMs = retryAfter ?? Math.min(backoff, policy.maxDelayMs);
      const reason = response
        ? `Hugging Face answered ${response.status} ${response.statusText}`.trim()
        : `Request to Hugging Face failed: ${(failure as Error)?.message}`;
      if (attempt >= policy.maxRetries || delayMs > policy.maxDelayMs) {
        await response?.body?.cancel().catch(() => {});
        throw new RetryableJobError(
          `${reason} for ${url} after ${attempt + 1} attempts${
            retryAfter !== undefined
              ? `; Retry-After ${Math.ceil(retryAfter / 1000)} s`
              : ''
          }`,
          retryAfter ?? delayMs,
        );
      }
      await response?.body?.cancel().catch(() => {});
      options.onRetry?.({ url, status: response?.status, delayMs });
      await sleep(delayMs, init?.signal);
    }
  };
}
