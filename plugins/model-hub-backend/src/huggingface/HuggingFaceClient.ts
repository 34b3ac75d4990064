import { listFiles, modelInfo } from '@huggingface/hub';
import { checkHubResponse, createRetryingFetch, RetryPolicy } from './retryingFetch';

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

  constructor(options: HuggingFaceClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    // The token goes in the Authorization header ourselves, so that tokens
    // without the `hf_` prefix (mirrors, enterprise hubs) work too.
    this.fetchFn = createRetryingFetch({
      fetch: options.fetch,
      policy: options.retry,
      headers: options.token
        ? { Authorization: `Bearer ${options.token}` }
        : undefined,
      onRetry: options.onRetry,
    });
  }

  private hubFetch(what: string, signal?: AbortSignal): typeof fetch {
    return async (input, init) =>
      checkHubResponse(
        await this.fetchFn(input, { ...init, signal: signal ?? init?.signal }),
        what,
      );
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

  /** Reads a small text file; undefined when it does not exist. */
  async readText(
    repoId: string,
    commit: string,
    path: string,
    signal?: AbortSignal,
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
    return response.text();
  }
}
