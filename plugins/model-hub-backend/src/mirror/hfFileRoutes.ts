import { Request, Response, Router } from 'express';
import { entryNotFound, HfError } from './errors';
import { MirrorRepository, RepoFile, RepoSnapshot } from './repository';
import { lfsPointer } from './gitObjects';
import { writeFileHead } from '../service/range';
import { sendContent } from './sendFile';
import { sendGrowingFile } from './sendGrowingFile';
import {
  contentDisposition,
  filePath,
  HfRouteContext,
  param,
  preconditions,
  SendRange,
} from './hfRequest';

/**
 * The file routes of the mirror, under `/hf`: resolve (the content of a
 * file, fetched on demand when its bytes are not in the store yet) and raw
 * (the git blob: an LFS pointer for an LFS file).
 *
 * @internal
 */
export function addHfFileRoutes(router: Router, context: HfRouteContext) {
  const { options, handle, authorizedSnapshot } = context;
  const { artifacts, logger } = options;

  const resolve = handle(async (req, res) => {
    const path = filePath(req);
    const snapshot = await authorizedSnapshot(req, param(req, 'rev'));
    const file = MirrorRepository.file(snapshot, path);
    const etag = `"${file.lfs ? file.sha256 : file.oid}"`;
    res.setHeader('X-Repo-Commit', snapshot.commit);
    res.setHeader('ETag', etag);
    if (file.lfs) {
      res.setHeader('X-Linked-Etag', etag);
      res.setHeader('X-Linked-Size', String(file.size));
    }
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, max-age=0, no-transform');
    const range = preconditions(req, res, etag, file.size);
    if (!range) {
      return;
    }
    if (file.pending) {
      await resolvePending(req, res, snapshot, file, path, range);
      return;
    }
    // open the content before the status goes out, so that missing bytes
    // still answer with an error
    const stream =
      req.method === 'HEAD' || file.size === 0
        ? undefined
        : await artifacts.get(
            file.sha256,
            range.type === 'range' ? range : undefined,
          );
    writeFileHead(res, {
      size: file.size,
      disposition: contentDisposition(path),
      range,
    });
    // GET responses from the first byte count as downloads in the history
    // (a client fetching a file in parallel ranges counts once), in the
    // background: recording never fails or delays the download
    if (req.method === 'GET' && (range.type !== 'range' || range.start === 0)) {
      void options.recordDownload?.(file.size);
    }
    if (!stream) {
      res.end();
      return;
    }
    try {
      await sendContent(
        res,
        stream,
        range.type === 'range' ? range : { start: 0, end: file.size - 1 },
      );
    } catch (error) {
      logger.debug(
        `Mirror download of ${snapshot.model.entityRef} ${snapshot.version.label} ${path} ended early: ${error}`,
      );
      res.destroy();
    }
  });
  /**
   * A file of an approved version whose bytes are not in the store yet
   * (on-demand fetch): joins or starts the one upstream fetch of the file
   * and streams from its growing partial file, ranges included. The status
   * goes out once the upstream answered with the content, so an upstream
   * that refuses answers a 502; a fetch that fails later cuts the response
   * short of its Content-Length.
   */
  async function resolvePending(
    req: Request,
    res: Response,
    snapshot: RepoSnapshot,
    file: RepoFile,
    path: string,
    range: SendRange,
  ) {
    const { version } = snapshot;
    const source = version.source as
      | { huggingface?: { repo?: unknown } }
      | undefined;
    const repoId = source?.huggingface?.repo;
    if (
      !options.onDemand ||
      typeof repoId !== 'string' ||
      !version.resolvedCommit
    ) {
      throw entryNotFound(path, snapshot.commit);
    }
    const span =
      range.type === 'range' ? range : { start: 0, end: file.size - 1 };
    const writeHead = () => {
      writeFileHead(res, {
        size: file.size,
        disposition: contentDisposition(path),
        range,
      });
      if (
        req.method === 'GET' &&
        (range.type !== 'range' || range.start === 0)
      ) {
        void options.recordDownload?.(file.size);
      }
    };
    if (req.method === 'HEAD' || file.size === 0) {
      // nothing to send: no upstream fetch
      writeHead();
      res.end();
      return;
    }
    const content = await options.onDemand.acquire({
      versionId: version.id,
      modelId: snapshot.model.id,
      repoId,
      commit: version.resolvedCommit,
      file: {
        path: file.path,
        size: file.size,
        oid: file.oid,
        ...(file.lfs && { lfsSha256: file.sha256 }),
      },
    });
    const fromStore = async (sha256: string) => {
      const stream = await artifacts.get(
        sha256,
        range.type === 'range' ? range : undefined,
      );
      if (!res.headersSent) {
        writeHead();
      }
      await sendContent(res, stream, span);
    };
    try {
      if (content.type === 'stored') {
        await fromStore(content.sha256);
        return;
      }
      const { fetch } = content;
      const left = new Promise<void>(r => res.once('close', () => r()));
      try {
        await fetch.whenStarted(left);
      } catch (error) {
        throw new HfError(502, undefined, (error as Error).message);
      }
      if (res.destroyed) {
        return;
      }
      if (fetch.isStored) {
        await fromStore(fetch.storedSha256!);
        return;
      }
      writeHead();
      // the status goes out now; the bytes follow as they are written
      res.flushHeaders();
      const sent = await sendGrowingFile(res, fetch, span.start, span.end);
      if (sent === 'stored') {
        await fromStore(fetch.storedSha256!);
      }
    } catch (error) {
      if (!res.headersSent) {
        throw error;
      }
      logger.debug(
        `Mirror download of ${snapshot.model.entityRef} ${version.label} ${path} (fetched on demand) ended early: ${error}`,
      );
      res.destroy();
    }
  }

  router.head('/hf/:org/:name/resolve/:rev/*', resolve);
  router.get('/hf/:org/:name/resolve/:rev/*', resolve);

  const raw = handle(async (req, res) => {
    const path = filePath(req);
    const snapshot = await authorizedSnapshot(req, param(req, 'rev'));
    const file = MirrorRepository.file(snapshot, path);
    if (!file.lfs) {
      // a regular file: its git blob is its content
      await resolve(req, res);
      return;
    }
    // an LFS file: the git blob is the pointer
    const pointer = lfsPointer(file.sha256, file.size);
    const etag = `"${file.oid}"`;
    res.setHeader('X-Repo-Commit', snapshot.commit);
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'private, max-age=0, no-transform');
    const range = preconditions(req, res, etag, pointer.length);
    if (!range) {
      return;
    }
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    let body = pointer;
    if (range.type === 'range') {
      body = pointer.subarray(range.start, range.end + 1);
      res.status(206);
      res.setHeader(
        'Content-Range',
        `bytes ${range.start}-${range.end}/${pointer.length}`,
      );
    }
    res.setHeader('Content-Length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  router.head('/hf/:org/:name/raw/:rev/*', raw);
  router.get('/hf/:org/:name/raw/:rev/*', raw);
}
