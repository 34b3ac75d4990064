import { listFiles, modelInfo } from '@huggingface/hub';
import { HubAccountCheck, checkHubAccount } from './hubAccountCheck';
import {
  HfFileEntry,
  HfModelInfo,
  HuggingFaceClientOptions,
  MAX_API_RESPONSE_BYTES,
  MAX_LISTED_FILES,
  MAX_TEXT_FILE_BYTES,
  UpstreamTooLargeError,
} from './hubClientTypes';
import { streamHubFile } from './hubFileStream';
import { createNetworkFetch } from './hubFetch';
import { HubNetwork } from './proxy';
import {
  checkHubResponse,
  createRetryingFetch,
  DEFAULT_RETRY_POLICY,
  RetryPolicy,
} from './retryingFetch';
import type { FileResponse } from '../jobs/types';

// a streamed file response ({@link httpGet}: the socket's buffers, no
// copies), as the core's download code reads it
export type { FileResponse } from '../jobs/types';
export {
  MAX_API_RESPONSE_BYTES,
  MAX_LISTED_FILES,
  MAX_TEXT_FILE_BYTES,
  UpstreamTooLargeError,
} from './hubClientTypes';
export type {
  HfFileEntry,
  HfModelInfo,
  HuggingFaceClientOptions,
} from './hubClientTypes';
export type { HubAccountCheck } from './hubAccountCheck';

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
  async checkAccount(
    options: { timeoutMs?: number } = {},
  ): Promise<HubAccountCheck> {
    return checkHubAccount(
      { endpoint: this.endpoint, token: this.token, fetch: this.plainFetch },
      options,
    );
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
    return streamHubFile(
      {
        endpoint: this.endpoint,
        token: this.token,
        network: this.network,
        policy: this.policy,
        onRetry: this.onRetry,
      },
      repoId,
      this.fileUrl(repoId, commit, path),
      init,
    );
  }
}
