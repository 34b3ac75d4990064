import { listFiles, modelInfo } from '@huggingface/hub';
import { RetryableJobError } from '../jobs/JobWorker';
import { httpGet, HttpGetResponse } from './httpGet';
import { createNetworkFetch } from './hubFetch';
import { HubNetwork } from './proxy';
import {
  checkHubResponse,
  createRetryingFetch,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  RetryPolicy,
} from './retryingFetch';
import type { FileResponse } from '../jobs/types';

// a streamed file response ({@link httpGet}: the socket's buffers, no
// copies), as the core's download code reads it
export type { FileResponse } from '../jobs/types';

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** The largest answer of the Hub API read (model info, a page of the tree). @internal */
export const MAX_API_RESPONSE_BYTES = 16 * 1024 * 1024;
/** The largest small file read by default (`config.json`, ...). @internal */
export const MAX_TEXT_FILE_BYTES = 5 * 1024 * 1024;
/** The most files of one commit a listing reads. @internal */
export const MAX_LISTED_FILES = 100_000;

/** Upstream content over a size cap. @internal */
export class UpstreamTooLargeError extends Error {
  name = 'UpstreamTooLargeError';
}

/**
 * The same response, with a body that fails once more than `maxBytes`
 * arrive (and a refusal up front when `Content-Length` says so): JSON of the
 * Hub is parsed whole, so its size is bounded before it is read.
 */
function boundedResponse(
  response: Response,
  maxBytes: number,
  what: string,
): Response {
  const tooLarge = () =>
    new UpstreamTooLargeError(
      `${what}: the Hub's answer is larger than ${maxBytes} bytes`,
    );
  if (Number(response.headers.get('content-length')) > maxBytes) {
    void response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) {
    return response;
  }
  let seen = 0;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) {
          controller.error(tooLarge());
        } else {
          controller.enqueue(chunk);
        }
      },
    }),
  );
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** A file of a repo at a commit, as the tree API lists it. @internal */
export type HfFileEntry = {
  path: string;
  size: number;
  /** git blob sha1 (of the LFS pointer for LFS files). */
  oid: string;
  lfs?: { sha256: string; size: number; pointerSize: number };
};

/** Model info of a repo at a resolved commit. @internal */
export type HfModelInfo = {
  id: string;
  sha: string;
  private: boolean;
  gated: false | 'auto' | 'manual';
  pipelineTag?: string;
  libraryName?: string;
  tags: string[];
  cardData?: Record<string, unknown>;
  lastModified?: string;
};

/** @internal */
export type HuggingFaceClientOptions = {
  /** Base URL of the Hub (or a mirror); no trailing slash needed. */
  endpoint: string;
  token?: string;
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: { url: string; status?: number; delayMs: number }) => void;
  /** Proxies and extra CAs for every request to the Hub. */
  network?: HubNetwork;
};

function encodePath(path: string) {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * The Hugging Face Hub API as Model Hub uses it, through `@huggingface/hub`
 * with a configurable endpoint (`hubUrl`) and token. Every request goes
 * through a fetch that retries 429/5xx honouring `Retry-After` and turns
 * gated, private and missing repos into clear errors.
 *
 * @internal
 */
export class HuggingFaceClient {
  readonly endpoint: string;
  private readonly fetchFn: typeof fetch;
  private readonly policy: RetryPolicy;
  private readonly token?: string;
  private readonly onRetry?: HuggingFaceClientOptions['onRetry'];
  private readonly network?: HubNetwork;
  private readonly plainFetch: typeof fetch;

  constructor(options: HuggingFaceClientOptions) {
    this.network = options.network;
    this.plainFetch = options.network
      ? createNetworkFetch(options.network, options.fetch)
      : options.fetch ?? fetch;
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.token = options.token;
    this.onRetry = options.onRetry;
    // The token goes in the Authorization header ourselves, so that tokens
    // without the `hf_` prefix (mirrors, enterprise hubs) work too.
    this.fetchFn = createRetryingFetch({
      fetch: options.network
        ? createNetworkFetch(options.network, options.fetch)
        : options.fetch,
      policy: options.retry,
      headers: options.token
        ? { Authorization: `Bearer ${options.token}` }
        : undefined,
      onRetry: options.onRetry,
    });
  }

  /** Whether the client sends a token. */
  get hasToken(): boolean {
    return Boolean(this.token);
  }

  /**
   * One request of the status check of a source, without retries: with a
   * token, `GET /api/whoami-v2` (200: the token is valid, 401: it is not);
   * without one, `GET /api/models?limit=1` (reachability). Reports the
   * rate-limit headers the answer carried. Network errors are answered as
   * unreachable, never thrown.
   */
  async checkAccount(options: { timeoutMs?: number } = {}): Promise<{
    reachable: boolean;
    status?: number;
    account?: string;
    error?: string;
    rateLimit?: { limited: boolean; remaining?: number; limit?: number; resetSeconds?: number; policy?: string };
  }> {
    const url = this.token
      ? `${this.endpoint}/api/whoami-v2`
      : `${this.endpoint}/api/models?limit=1`;
    let res: Response;
    try {
      res = await this.plainFetch(url, {
        headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
        redirect: 'manual',
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message;
      return {
        reachable: false,
        error: `${(error as Error).message}${detail ? ` (${detail})` : ''}`,
      };
    }
    const header = (name: string) => res.headers.get(name) ?? undefined;
    const num = (v?: string) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
    // IETF draft headers (RateLimit: "api";r=..;t=..) and the X- variants
    const combined = header('ratelimit');
    const draft = combined ? /r=(\d+).*?t=(\d+)/.exec(combined) : null;
    const remaining = num(header('ratelimit-remaining') ?? header('x-ratelimit-remaining')) ??
      (draft ? Number(draft[1]) : undefined);
    const limit = num(header('ratelimit-limit') ?? header('x-ratelimit-limit'));
    const resetSeconds = num(header('ratelimit-reset') ?? header('x-ratelimit-reset') ?? header('retry-after')) ??
      (draft ? Number(draft[2]) : undefined);
    const limited = res.status === 429;
    const rateLimit =
      limited || remaining !== undefined || limit !== undefined || combined
        ? { limited, remaining, limit, resetSeconds, policy: header('ratelimit-policy') }
        : undefined;
    let account: string | undefined;
    let error: string | undefined;
    const text = await res.text().catch(() => '');
    if (res.ok && this.token) {
      try {
        const body = JSON.parse(text.slice(0, 1_000_000));
        account = typeof body?.name === 'string' ? body.name : undefined;
      } catch {
        error = 'whoami-v2 did not answer JSON';
      }
    } else if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = JSON.parse(text).error ?? message;
      } catch {
        // not JSON: the text itself
      }
      error = `${res.status} ${res.statusText}${message ? `: ${message}` : ''}`;
    }
    return { reachable: true, status: res.status, account, error, rateLimit };
  }

  private hubFetch(what: string, signal?: AbortSignal): typeof fetch {
    return async (input, init) => {
      const response = await checkHubResponse(
        await this.fetchFn(input, { ...init, signal: signal ?? init?.signal }),
        what,
      );
      return response.ok
        ? boundedResponse(response, MAX_API_RESPONSE_BYTES, what)
        : response;
    };
  }

  /** Resolves a revision of a repo to its commit, with the model info. */
  async getModelInfo(
    repoId: string,
    revision: string,
    signal?: AbortSignal,
  ): Promise<HfModelInfo> {
    const info = await modelInfo({
      name: repoId,
      revision,
      hubUrl: this.endpoint,
      additionalFields: ['sha', 'cardData', 'tags', 'library_name'],
      fetch: this.hubFetch(`Repository ${repoId}`, signal),
    });
    const raw = info as unknown as Record<string, unknown>;
    if (typeof raw.sha !== 'string' || !/^[0-9a-f]{40}$/.test(raw.sha)) {
      throw new Error(
        `The Hub did not resolve ${repoId}@${revision} to a commit id`,
      );
    }
    return {
      id: info.name,
      sha: raw.sha,
      private: info.private,
      gated: info.gated,
      pipelineTag: info.task,
      libraryName: raw.library_name as string | undefined,
      tags: Array.isArray(raw.tags) ? (raw.tags as string[]) : [],
      cardData: raw.cardData as Record<string, unknown> | undefined,
      lastModified: info.updatedAt?.toISOString?.(),
    };
  }

  /** Lists every file of a repo at a commit, recursively, over all pages. */
  async listFiles(
    repoId: string,
    commit: string,
    signal?: AbortSignal,
  ): Promise<HfFileEntry[]> {
    const files: HfFileEntry[] = [];
    for await (const entry of listFiles({
      repo: { type: 'model', name: repoId },
      recursive: true,
      revision: commit,
      hubUrl: this.endpoint,
      fetch: this.hubFetch(`Repository ${repoId}`, signal),
    })) {
      if (entry.type !== 'file') {
        continue;
      }
      if (files.length >= MAX_LISTED_FILES) {
        throw new UpstreamTooLargeError(
          `Repository ${repoId} has more than ${MAX_LISTED_FILES} files at ${commit}`,
        );
      }
      files.push({
        path: entry.path,
        size: entry.size,
        oid: entry.oid ?? '',
        ...(entry.lfs && {
          lfs: {
            sha256: entry.lfs.oid,
            size: entry.lfs.size,
            pointerSize: entry.lfs.pointerSize,
          },
        }),
      });
    }
    return files;
  }

  /** The download URL of a file at a commit. */
  fileUrl(repoId: string, commit: string, path: string): string {
    return `${this.endpoint}/${encodePath(repoId)}/resolve/${encodeURIComponent(
      commit,
    )}/${encodePath(path)}`;
  }

  /** Fetches a file (or a range of it); Hub errors become clear errors. */
  async fetchFile(
    repoId: string,
    commit: string,
    path: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const response = await this.fetchFn(this.fileUrl(repoId, commit, path), {
      headers: { 'Accept-Encoding': 'identity', ...init.headers },
      signal: init.signal,
    });
    return checkHubResponse(response, `Repository ${repoId}`);
  }

  /**
   * Reads a small text file; undefined when it does not exist. At most
   * `maxBytes` are read: a larger file fails with `UpstreamTooLargeError`,
   * or with `truncate` gives its first `maxBytes` (a model card, whose
   * front matter comes first).
   */
  async readText(
    repoId: string,
    commit: string,
    path: string,
    signal?: AbortSignal,
    limit: { maxBytes?: number; truncate?: boolean } = {},
  ): Promise<string | undefined> {
    const response = await this.fetchFile(repoId, commit, path, { signal });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      throw new Error(
        `Reading ${path} of ${repoId} failed: ${response.status} ${response.statusText}`,
      );
    }
    const maxBytes = limit.maxBytes ?? MAX_TEXT_FILE_BYTES;
    const tooLarge = () =>
      new UpstreamTooLargeError(
        `${path} of ${repoId} is larger than ${maxBytes} bytes`,
      );
    if (
      !limit.truncate &&
      Number(response.headers.get('content-length')) > maxBytes
    ) {
      await response.body?.cancel();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body?.getReader();
    while (reader) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      if (size + value.byteLength > maxBytes) {
        await reader.cancel();
        if (!limit.truncate) {
          throw tooLarge();
        }
        chunks.push(value.subarray(0, maxBytes - size));
        size = maxBytes;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
    return new TextDecoder().decode(Buffer.concat(chunks, size));
  }

  /**
   * Streams a file (or a range of it) with {@link httpGet}: redirects followed
   * (the token is only sent to the endpoint's origin), 429/5xx and network
   * failures retried like every other request, Hub errors turned into
   * clear errors.
   */
  async streamFile(
    repoId: string,
    commit: string,
    path: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<FileResponse> {
    const origin = new URL(this.endpoint).origin;
    const start = this.fileUrl(repoId, commit, path);
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
          if (this.token && url.origin === origin) {
            headers.Authorization = `Bearer ${this.token}`;
          }
          res = await httpGet(url, {
            headers,
            signal: init.signal,
            network: this.network,
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
        this.policy.baseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5),
      );
      const delayMs = retryAfter ?? Math.min(backoff, this.policy.maxDelayMs);
      const reason = res
        ? `Hugging Face answered ${status} ${res.statusMessage}`.trim()
        : `Request to Hugging Face failed: ${(failure as Error)?.message}`;
      if (
        attempt >= this.policy.maxRetries ||
        delayMs > this.policy.maxDelayMs
      ) {
        throw new RetryableJobError(
          `${reason} for ${start} after ${attempt + 1} attempts${
            retryAfter !== undefined
              ? `; Retry-After ${Math.ceil(retryAfter / 1000)} s`
              : ''
          }`,
          retryAfter ?? delayMs,
        );
      }
      this.onRetry?.({ url: start, status: res ? status : undefined, delayMs });
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
}
