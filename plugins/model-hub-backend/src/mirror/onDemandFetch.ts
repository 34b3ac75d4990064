import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { LoggerService } from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { ModelHubStore } from '../database/ModelHubStore';
import { blobKeyOf, downloadBlob, DownloadFile } from '../jobs/downloadBlob';
import type { FileFetcher } from '../jobs/types';
import {
  PartialDownload,
  PartialDownloadStore,
} from '../jobs/PartialDownloadStore';
import { commitBlob } from '../service/ingest';
import { ArtifactStore } from '../store/ArtifactStore';
import { resolveWriteMode, WriteMode } from '../store/SequentialFileWriter';

/**
 * How often (in bytes written) a shared fetch publishes how far its partial
 * file is written: readers serve up to that offset. Each step is also a
 * resume checkpoint (one row update).
 */
const DEFAULT_PUBLISH_BYTES = 4 * 1024 * 1024;

/**
 * The partial-download rows of the fetches of the mirror, which also tell
 * the fetch how far its file is written (`downloadBlob` records the offset
 * the writer has written at every checkpoint).
 */
class PublishingPartials extends PartialDownloadStore {
  constructor(
    db: Knex,
    private readonly publish: (blobKey: string, offset: number) => void,
  ) {
    super(db);
  }

  override async put(download: PartialDownload): Promise<void> {
    await super.put(download);
    this.publish(download.blobKey, download.durableOffset);
  }

  override async setOffset(blobKey: string, offset: number): Promise<void> {
    // the bytes are in the file already: readers need not wait for the row
    this.publish(blobKey, offset);
    await super.setOffset(blobKey, offset);
  }
}

/**
 * One upstream fetch of a file that is not in the store yet, shared by every
 * request for it. Readers serve the bytes of its growing partial file up to
 * {@link SharedFetch.readable}; the last byte only becomes readable once the
 * whole file is verified (SHA-256, or the git blob SHA-1) and stored, so a
 * response can never complete with bytes that failed verification.
 *
 * @internal
 */
export class SharedFetch {
  /** Bytes at the start of the partial file that are written. */
  private written = 0;
  /** Whether the upstream answered with content, or the fetch ended. */
  private started = false;
  private state: 'running' | 'stored' | 'failed' = 'running';
  private failure: Error | undefined;
  private sha256: string | undefined;
  private waiters: Array<() => void> = [];
  /** Requests that joined this fetch (the first one included). */
  joined = 0;

  constructor(
    readonly key: string,
    readonly tempPath: string,
    readonly size: number,
  ) {}

  /** Bytes that may be served: everything once stored, else all but the last. */
  get readable(): number {
    if (this.state === 'stored') {
      return this.size;
    }
    return Math.min(this.written, Math.max(0, this.size - 1));
  }

  /** The verified content digest once stored. */
  get storedSha256(): string | undefined {
    return this.sha256;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  get isStored(): boolean {
    return this.state === 'stored';
  }

  /** @internal */
  progress(offset: number) {
    if (offset > this.written) {
      this.written = offset;
    }
    this.wake();
  }

  /** @internal The upstream answered with the content (200 or 206). */
  answered() {
    this.started = true;
    this.wake();
  }

  /** @internal */
  stored(sha256: string) {
    this.sha256 = sha256;
    this.state = 'stored';
    this.started = true;
    this.wake();
  }

  /** @internal */
  fail(error: Error) {
    this.failure = error;
    this.state = 'failed';
    this.started = true;
    this.wake();
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(w => w());
  }

  /** Resolves on the next change (bytes written, stored, failed) or `until`. */
  private changed(until?: Promise<unknown>): Promise<void> {
    return new Promise<void>(resolve => {
      this.waiters.push(resolve);
      until?.then(
        () => resolve(),
        () => resolve(),
      );
    });
  }

  /**
   * Waits until the upstream answered with the content (or the fetch
   * finished). Throws the fetch's error if it failed first.
   */
  async whenStarted(until?: Promise<unknown>): Promise<void> {
    while (!this.started) {
      await this.changed(until);
      if (until && (await isSettled(until))) {
        return;
      }
    }
    this.throwIfFailed();
  }

  /**
   * Waits until the byte at `offset` is readable; throws the fetch's error
   * if it fails first. Returns early when `until` settles (the client left).
   */
  async waitFor(offset: number, until?: Promise<unknown>): Promise<void> {
    while (offset >= this.readable) {
      this.throwIfFailed();
      await this.changed(until);
      if (until && (await isSettled(until))) {
        return;
      }
    }
  }

  private throwIfFailed() {
    if (this.state === 'failed') {
      throw this.failure;
    }
  }
}

async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = {};
  const winner = await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    Promise.resolve(marker),
  ]);
  return winner !== marker;
}

/** A file of an approved version, as the mirror knows it before its bytes. @internal */
export type OnDemandFile = {
  versionId: string;
  /** The model of the version: its source's client fetches the file. */
  modelId?: string;
  /** The Hub repo and the commit the version was synced from. */
  repoId: string;
  commit: string;
  file: DownloadFile;
};

/** What {@link OnDemandFetcher.acquire} found. @internal */
export type OnDemandContent =
  | { type: 'stored'; sha256: string }
  | { type: 'fetching'; fetch: SharedFetch };

/** Raised when the shared upstream fetch of a file failed. @internal */
export class UpstreamFetchError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'UpstreamFetchError';
  }
}

/**
 * Request coalescing of the mirror for `modelHub.huggingface.fetch:
 * on-demand`: the first request for a file of an approved version whose
 * bytes are not in the store starts ONE upstream fetch (through the download
 * path of the jobs, {@link downloadBlob}: resumable partial file, verified
 * before it becomes a blob); concurrent requests join it and stream from the
 * growing partial file. Once stored, the file is committed to the version
 * (it only fills in the approved file list). A failed fetch fails its
 * readers and is forgotten, so the next request tries again (resuming the
 * kept partial bytes).
 *
 * Single flight is per backend instance (an in-memory map keyed by the
 * content identity). Instances that share the database do not see each
 * other's fetches: each fetches a file at most once at a time, so N
 * instances make at most N concurrent upstream fetches of one file.
 *
 * @internal
 */
export class OnDemandFetcher {
  private readonly inflight = new Map<string, SharedFetch>();
  private readonly partials: PublishingPartials;
  private readonly dir: string;
  private readonly abort = new AbortController();
  /** The runs of the fetches in progress (awaited by `stop`). */
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      /** The Hub client of files whose model has no source client. */
      fetcher?: FileFetcher;
      /** The Hub client of a model's source (issue 22); wins over `fetcher`. */
      fetcherOf?: (target: { modelId?: string }) => Promise<FileFetcher>;
      store: ModelHubStore;
      artifacts: ArtifactStore;
      db: Knex;
      /** The download folder of the sync; the mirror uses a subfolder. */
      downloadDir: string;
      writeMode?: WriteMode;
      logger: LoggerService;
      /** Bytes between offsets published to readers (default 4 MiB). */
      publishBytes?: number;
      /** Called for every file stored (format inspection). */
      onFileStored?: (
        versionId: string,
        file: { path: string; sha256: string; size: number },
      ) => Promise<unknown>;
    },
  ) {
    // apart from the download jobs' partial files: a job and the mirror
    // fetching the same blob never write the same file
    this.dir = join(options.downloadDir, 'mirror');
    this.partials = new PublishingPartials(options.db, (key, offset) =>
      this.inflight.get(key)?.progress(offset),
    );
    // the write mode of the folder's filesystem is measured once per
    // process (`auto`): now, rather than in the first request's wait
    this.ready = fs
      .mkdir(this.dir, { recursive: true })
      .then(() => resolveWriteMode(this.dir, options.writeMode))
      .then(
        decision =>
          options.logger.info(
            `Mirror on-demand fetches ready in ${this.dir} (${decision.mode} writes)`,
          ),
        error =>
          options.logger.warn(
            `The mirror's download folder ${this.dir} is not usable: ${error}`,
          ),
      );
  }

  /** Resolves once the download folder is ready (its write mode measured). */
  readonly ready: Promise<void>;

  /** Fetches in progress (tests, metrics). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Stops the fetches in progress (shutdown) and resolves once they ended:
   * their readers fail, their partial files and resume checkpoints stay, so
   * a later fetch of the same file resumes them. No fetch starts after it.
   */
  async stop(): Promise<void> {
    this.abort.abort(new Error('The backend is shutting down'));
    await Promise.allSettled([...this.runs]);
  }

  /**
   * The content of a file: in the store already, or the shared fetch that
   * brings it (joined, or started now).
   */
  async acquire(target: OnDemandFile): Promise<OnDemandContent> {
    const key = blobKeyOf(target.file);
    const running = this.inflight.get(key);
    if (running) {
      running.joined += 1;
      return { type: 'fetching', fetch: running };
    }
    const stored = await this.findStored(target);
    // a fetch may have started while the store was asked
    const raced = this.inflight.get(key);
    if (raced) {
      raced.joined += 1;
      return { type: 'fetching', fetch: raced };
    }
    if (stored) {
      return { type: 'stored', sha256: stored };
    }
    const fetch = new SharedFetch(
      key,
      join(this.dir, `${key.replace(':', '-')}.partial`),
      target.file.size,
    );
    fetch.joined = 1;
    this.inflight.set(key, fetch);
    const run = this.run(fetch, target);
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return { type: 'fetching', fetch };
  }

  /** The digest of the file's bytes when the store has them. */
  private async findStored(target: OnDemandFile): Promise<string | undefined> {
    const { store, artifacts } = this.options;
    const file = await store.getFile({
      versionId: target.versionId,
      path: target.file.path,
    });
    if (
      file &&
      (!target.file.lfsSha256 || file.sha256 === target.file.lfsSha256) &&
      (await artifacts.stat(file.sha256))
    ) {
      return file.sha256;
    }
    const sha256 = target.file.lfsSha256;
    if (
      sha256 &&
      (await store.getBlob({ sha256 })) &&
      (await artifacts.stat(sha256))
    ) {
      // another version holds these bytes: this one takes them too
      await this.commit(target, { sha256, size: target.file.size });
      return sha256;
    }
    return undefined;
  }

  private async commit(
    target: OnDemandFile,
    blob: {
      sha256: string;
      size: number;
      location?: string;
      created?: boolean;
    },
  ) {
    await commitBlob({
      store: this.options.store,
      artifacts: this.options.artifacts,
      versionId: target.versionId,
      path: target.file.path,
      blob: {
        sha256: blob.sha256,
        size: blob.size,
        location: blob.location ?? '',
        created: blob.created ?? false,
      },
      createdBy: 'huggingface-sync',
      ...(!target.file.lfsSha256 && { gitOid: target.file.oid }),
      inspect: this.options.onFileStored,
      onInspectionError: error =>
        this.options.logger.warn(
          `Format inspection of ${target.file.path} failed: ${error.message}`,
        ),
    });
  }

  /** The Hub client of a file: its model's source's, else the default. */
  private async fetcherOf(target: OnDemandFile): Promise<FileFetcher> {
    const fetcher =
      (await this.options.fetcherOf?.({ modelId: target.modelId })) ??
      this.options.fetcher;
    if (!fetcher) {
      throw new Error('No Hugging Face source is set up for on-demand fetches');
    }
    return fetcher;
  }

  private async run(fetch: SharedFetch, target: OnDemandFile) {
    const { logger } = this.options;
    const { file, repoId, commit } = target;
    const started = Date.now();
    let firstBytesMs: number | undefined;
    try {
      this.abort.signal.throwIfAborted();
      const fetcher = await this.fetcherOf(target);
      await this.ready;
      await fs.mkdir(this.dir, { recursive: true });
      const blob = await downloadBlob({
        file,
        url: fetcher.fileUrl(repoId, commit, file.path),
        fetchRange: async (headers, signal) => {
          const response = await fetcher.streamFile(repoId, commit, file.path, {
            headers,
            signal,
          });
          if (response.status === 200 || response.status === 206) {
            // readers may send their headers; the bytes follow
            fetch.answered();
          }
          return response;
        },
        artifacts: this.options.artifacts,
        partials: this.partials,
        dir: this.dir,
        signal: this.abort.signal,
        checkpointBytes: this.options.publishBytes ?? DEFAULT_PUBLISH_BYTES,
        writeMode: this.options.writeMode,
        // one stream: readers follow the file from its start
        onBytes: bytes => {
          if (bytes > 0) {
            firstBytesMs ??= Date.now() - started;
          }
        },
      });
      fetch.stored(blob.sha256);
      logger.info(
        `Mirror fetched ${repoId}@${commit} ${file.path} on demand (${
          file.size
        } bytes, verified, ${fetch.joined} requests joined) in ${(
          (Date.now() - started) /
          1000
        ).toFixed(1)} s, first bytes after ${firstBytesMs ?? '?'} ms`,
      );
      try {
        await this.commit(target, blob);
      } catch (error) {
        logger.warn(
          `The fetched ${file.path} could not be added to its version: ${error}`,
        );
      }
    } catch (error) {
      logger.warn(
        `Mirror fetch of ${repoId}@${commit} ${file.path} failed: ${
          (error as Error).message
        }`,
      );
      fetch.fail(
        new UpstreamFetchError(
          `Fetching ${file.path} from the Hugging Face Hub failed; retry the request`,
          error,
        ),
      );
    } finally {
      this.inflight.delete(fetch.key);
    }
  }
}
