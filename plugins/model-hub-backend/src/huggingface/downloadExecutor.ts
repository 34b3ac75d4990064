import { InputError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { commitBlob } from '../service/ingest';
import { ArtifactStore } from '../store/ArtifactStore';
import { WriteMode } from '../store/SequentialFileWriter';
import type { ParallelDownloadOptions } from '../jobs/rangedDownload';
import {
  DownloadFile,
  downloadBlob,
  DownloadVerificationError,
} from '../jobs/downloadBlob';
import { JobExecutor } from '../jobs/JobWorker';
import { PartialDownloadStore } from '../jobs/PartialDownloadStore';
import type { FileFetcher } from '../jobs/types';

export type { FileFetcher } from '../jobs/types';

/**
 * The executor of `huggingface-download` jobs: downloads each file of the
 * job (resuming partial downloads), verifies it, stores it and adds it to
 * the job's version. Files the version already has are skipped, and blobs
 * the store already has are not downloaded again, so a job that runs twice
 * does no harm. Progress: bytes, total, rate (bytes/s) and ETA (s).
 *
 * @internal
 */
export function createDownloadExecutor(options: {
  fetcher: FileFetcher;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  partials: PartialDownloadStore;
  downloadDir: string;
  checkpointBytes?: number;
  /** How downloads are written (default `auto`: measured per filesystem). */
  writeMode?: WriteMode;
  /** Parallel ranged requests for large files (default: one stream). */
  parallel?: ParallelDownloadOptions;
  /**
   * Called once a file is stored and listed in the version, e.g. to run the
   * format inspection; its failure is logged on the job, never fails it.
   */
  onFileStored?: (
    versionId: string,
    file: { path: string; sha256: string; size: number },
  ) => Promise<unknown>;
}): JobExecutor {
  const { store, artifacts } = options;
  return async ctx => {
    const { job } = ctx;
    const params = job.params as {
      repo?: string;
      commit?: string;
      files?: DownloadFile[];
    };
    if (!params.repo || !params.commit || !Array.isArray(params.files)) {
      throw new InputError('A download job needs repo, commit and files');
    }
    if (!job.versionId) {
      throw new InputError('A download job needs a version');
    }
    const versionId = job.versionId;
    const existing = new Map(
      (await store.listFiles({ versionId })).map(f => [f.path, f]),
    );
    const totalBytes = params.files.reduce((n, f) => n + f.size, 0);
    let doneBytes = 0;
    let filesDone = 0;
    const started = Date.now();
    let startBytes: number | undefined;
    const report = (file: string, fileBytes: number) => {
      const bytes = doneBytes + fileBytes;
      const elapsed = (Date.now() - started) / 1000;
      startBytes ??= bytes;
      const rate = elapsed > 0 ? Math.round((bytes - startBytes) / elapsed) : 0;
      ctx.progress({
        file,
        filesDone,
        filesTotal: params.files!.length,
        bytes,
        totalBytes,
        rate,
        etaSeconds: rate > 0 ? Math.ceil((totalBytes - bytes) / rate) : null,
      });
    };

    for (const file of params.files) {
      ctx.signal.throwIfAborted();
      const have = existing.get(file.path);
      if (have && (!file.lfsSha256 || have.sha256 === file.lfsSha256)) {
        doneBytes += file.size;
        filesDone += 1;
        continue;
      }
      let blob:
        | { sha256: string; size: number; location: string; created: boolean }
        | undefined;
      if (file.lfsSha256) {
        const known = await store.getBlob({ sha256: file.lfsSha256 });
        if (known && (await artifacts.stat(file.lfsSha256))) {
          blob = { ...known, created: false };
          await ctx.log('info', `${file.path}: already in the store`);
        }
      }
      if (!blob) {
        const url = options.fetcher.fileUrl(
          params.repo,
          params.commit,
          file.path,
        );
        const t0 = Date.now();
        const result = await downloadBlob({
          file,
          url,
          fetchRange: (headers, signal) =>
            options.fetcher.streamFile(
              params.repo!,
              params.commit!,
              file.path,
              {
                headers,
                signal,
              },
            ),
          artifacts,
          partials: options.partials,
          dir: options.downloadDir,
          jobId: job.id,
          signal: ctx.signal,
          onBytes: bytes => report(file.path, bytes),
          log: message => ctx.log('info', message),
          checkpointBytes: options.checkpointBytes,
          writeMode: options.writeMode,
          parallel: options.parallel,
        }).catch(async error => {
          if (error instanceof DownloadVerificationError) {
            await ctx.log('error', error.message);
          }
          throw error;
        });
        const secs = Math.max(0.001, (Date.now() - t0) / 1000);
        await ctx.log(
          'info',
          `${file.path}: ${file.size} bytes verified (${
            file.lfsSha256 ? 'sha256' : 'git sha1'
          }) and stored as ${result.sha256}${
            result.resumedFrom
              ? `, resumed from byte ${result.resumedFrom}`
              : ''
          } in ${secs.toFixed(1)} s`,
        );
        blob = result;
      }
      // the one commit path into a version: an HF version takes only the
      // files of the list it was synced (and approved) with
      await commitBlob({
        store,
        artifacts,
        versionId,
        path: file.path,
        blob,
        createdBy: job.createdBy,
        ...(!file.lfsSha256 && file.oid && { gitOid: file.oid }),
        inspect: options.onFileStored,
        onInspectionError: error =>
          ctx.log(
            'warn',
            `${file.path}: format inspection failed: ${error.message}`,
          ),
      });
      doneBytes += file.size;
      filesDone += 1;
      report(file.path, 0);
    }
    report('', 0);
  };
}
