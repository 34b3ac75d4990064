import { DiscoveryService, LoggerService } from '@backstage/backend-plugin-api';
import { modelHubModelCreatePermission } from '@model-hub/backstage-plugin-model-hub-common';
import express, { Request, Response, Router } from 'express';
import { ArtifactStore } from '../store/ArtifactStore';
import { parseRange } from '../service/range';
import { trimChar } from '../service/linearText';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { callerRef, MirrorAccess, MirrorCaller } from './access';
import { entryNotFound, HfError, repoNotFound, sendHfError } from './errors';
import {
  MirrorRepository,
  RepoEntry,
  RepoFile,
  RepoSnapshot,
  repoIdOf,
} from './repository';
import { lfsPointer } from './gitObjects';
import { sendContent } from './sendFile';
import { OnDemandFetcher } from './onDemandFetch';
import { sendGrowingFile } from './sendGrowingFile';

/** What the mirror routes need. @internal */
export type MirrorRoutesOptions = {
  repository: MirrorRepository;
  access: MirrorAccess;
  artifacts: ArtifactStore;
  discovery: DiscoveryService;
  logger: LoggerService;
  treePageSize: number;
  /**
   * Pull-through: queues the sync of a Hub repo that is not mirrored yet
   * (registers it with the Hugging Face sync); absent when it is off.
   */
  pullThrough?: (options: { repoId: string; actor: string }) => Promise<void>;
  /** Counts a download for the history; never throws. */
  recordDownload?: (bytes: number) => Promise<void>;
  /**
   * `modelHub.huggingface.fetch: on-demand`: fetches approved files whose
   * bytes are not in the store yet, one upstream fetch per file shared by
   * concurrent requests.
   */
  onDemand?: OnDemandFetcher;
};

/** Headers a browser client (transformers.js, @huggingface/hub) must read. */
const EXPOSED_HEADERS = [
  'Content-Range',
  'Content-Length',
  'ETag',
  'X-Linked-Etag',
  'X-Linked-Size',
  'X-Repo-Commit',
  'X-Error-Code',
  'X-Error-Message',
  'Link',
  'Accept-Ranges',
].join(', ');

function bool(value: unknown): boolean {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  return v === true || v === 'true' || v === 'True' || v === '1';
}

function param(req: Request, name: string): string {
  return String((req.params as Record<string, string>)[name] ?? '');
}

/** The file path of a request (`*`), with no empty or dot segments. */
function filePath(req: Request): string {
  const path = param(req, '0').replace(/^\/+/, '');
  if (
    path.split('/').some(s => s === '' || s === '.' || s === '..') ||
    path.includes('\0')
  ) {
    throw new HfError(400, undefined, `Invalid path '${path}'`);
  }
  return path;
}

function toHfError(error: unknown): HfError {
  if (error instanceof HfError) {
    return error;
  }
  const e = error as Error;
  switch (e?.name) {
    case 'InputError':
      return new HfError(400, undefined, e.message);
    case 'AuthenticationError':
      return new HfError(401, undefined, e.message);
    case 'NotAllowedError':
      return new HfError(403, undefined, e.message);
    case 'NotFoundError':
      return new HfError(404, 'EntryNotFound', e.message);
    default:
      return new HfError(500, undefined, 'Internal error of the mirror');
  }
}

/** A tree entry as the Hub's `/tree` and `/paths-info` answer it. */
function treeEntry(entry: RepoEntry, snapshot: RepoSnapshot, expand: boolean) {
  const lastCommit = expand
    ? {
        lastCommit: {
          id: snapshot.commit,
          title: `Version ${snapshot.version.label}`,
          date: snapshot.version.updatedAt,
        },
      }
    : {};
  if (entry.type === 'directory') {
    return {
      type: 'directory',
      oid: entry.oid,
      size: 0,
      path: entry.path,
      ...lastCommit,
    };
  }
  return {
    type: 'file',
    oid: entry.oid,
    size: entry.size,
    ...(entry.lfs ? { lfs: entry.lfs } : {}),
    path: entry.path,
    ...lastCommit,
  };
}

function contentDisposition(path: string): string {
  const base = path.split('/').pop()!;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename*=UTF-8''${encodeURIComponent(
    base,
  )}; filename="${ascii}"`;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

type Cursor = { offset: number };

function readCursor(value: unknown): Cursor {
  if (value === undefined || value === '') {
    return { offset: 0 };
  }
  try {
    const parsed = JSON.parse(
      Buffer.from(String(value), 'base64url').toString('utf8'),
    );
    if (Number.isSafeInteger(parsed.o) && parsed.o >= 0) {
      return { offset: parsed.o };
    }
  } catch {
    // fall through
  }
  throw new HfError(400, undefined, 'Invalid cursor');
}

function writeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ o: cursor.offset })).toString(
    'base64url',
  );
}

/**
 * The Hugging Face Hub routes of the mirror, under `/hf`: model info, tree,
 * paths-info, refs, resolve and raw, as specified by the HF protocol
 * reference. Only approved versions are served.
 *
 * @internal
 */
export function addMirrorRoutes(router: Router, options: MirrorRoutesOptions) {
  const { repository, access, artifacts, logger } = options;

  const handle =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response) => {
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      try {
        await fn(req, res);
      } catch (error) {
        const hfError = toHfError(error);
        if (hfError.status >= 500) {
          logger.error(
            `Mirror request ${req.method} ${req.path} failed`,
            error as Error,
          );
        }
        sendHfError(res, req.method, hfError);
      }
    };

  /**
   * Pull-through of a repo that is not mirrored: a caller allowed to create
   * models (`model-hub.model.create`) queues its sync and is asked to come
   * back (503 + Retry-After); the repo is served once a version of it is
   * approved. Other callers get a 403 that says so.
   */
  async function pullThrough(caller: MirrorCaller, repoId: string) {
    const actor = callerRef(caller);
    if (!options.pullThrough || !actor) {
      return;
    }
    if (!(await access.canCreateModels(caller))) {
      throw new HfError(
        403,
        undefined,
        `${repoId} is not mirrored, and pulling it through needs ${modelHubModelCreatePermission.name}`,
      );
    }
    try {
      await options.pullThrough({ repoId, actor });
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'ConflictError') {
        // not on the Hub, not readable, or an organization not allowed
        throw repoNotFound(repoId);
      }
      // registered concurrently: its sync is queued already
    }
    logger.info(`Mirror pull-through of ${repoId} requested by ${actor}`);
    throw new HfError(
      503,
      undefined,
      `${repoId} is not mirrored yet; its sync is queued, and it is served once a version is approved`,
      { 'Retry-After': '60' },
    );
  }

  /** Authenticates, finds the model and checks the download permission. */
  async function authorizedModel(req: Request) {
    const caller = await access.authenticate(req);
    const org = param(req, 'org');
    const name = param(req, 'name');
    let model;
    try {
      model = await repository.getModel(org, name);
    } catch (error) {
      if (error instanceof HfError && error.code === 'RepoNotFound') {
        await pullThrough(caller, `${org}/${name}`);
      }
      throw error;
    }
    await access.authorizeRead(caller, model, `${org}/${name}`);
    await access.authorizeDownload(caller, model);
    return model;
  }

  async function authorizedSnapshot(req: Request, revision: string) {
    const model = await authorizedModel(req);
    return repository.resolve(model, revision);
  }

  const modelInfo = handle(async (req, res) => {
    const revision = req.params.rev !== undefined ? param(req, 'rev') : 'main';
    const snapshot = await authorizedSnapshot(req, revision);
    const { model, version } = snapshot;
    const blobs = bool(req.query.blobs);
    const files = snapshot.entries.filter(
      (e): e is RepoFile => e.type === 'file',
    );
    res.setHeader('Cache-Control', 'private, no-cache');
    res.json({
      _id: model.id,
      // the repo id the client asked for (a portal or an upstream id)
      id: `${param(req, 'org')}/${param(req, 'name')}`,
      modelId: `${param(req, 'org')}/${param(req, 'name')}`,
      author: model.namespace,
      sha: snapshot.commit,
      lastModified: version.updatedAt,
      createdAt: model.createdAt,
      private: true,
      gated: false,
      disabled: false,
      downloads: 0,
      likes: 0,
      ...(model.task ? { pipeline_tag: model.task } : {}),
      tags: model.tags,
      ...(model.license ? { cardData: { license: model.license } } : {}),
      usedStorage: version.totalSize,
      siblings: files.map(f =>
        blobs
          ? {
              rfilename: f.path,
              size: f.size,
              blobId: f.oid,
              ...(f.lfs
                ? {
                    lfs: {
                      sha256: f.lfs.oid,
                      size: f.lfs.size,
                      pointerSize: f.lfs.pointerSize,
                    },
                  }
                : {}),
            }
          : { rfilename: f.path },
      ),
    });
  });
  // `huggingface-cli login` / `whoami` check a token here
  router.get(
    '/hf/api/whoami-v2',
    handle(async (req, res) => {
      const caller = await access.authenticate(req);
      const principal =
        caller.type === 'credentials'
          ? (caller.credentials.principal as {
              type: string;
              userEntityRef?: string;
              subject?: string;
            })
          : undefined;
      const ref =
        (caller.type === 'token' && caller.token.userEntityRef) ||
        principal?.userEntityRef ||
        principal?.subject;
      if (!ref) {
        throw new HfError(
          401,
          undefined,
          'Invalid credentials in Authorization header',
        );
      }
      const name = ref.replace(/^[^:]+:/, '').replace(/^default\//, '');
      res.setHeader('Cache-Control', 'private, no-store');
      res.json({
        type: 'user',
        id: ref,
        name,
        fullname: name,
        orgs: [],
        auth: {
          type: 'access_token',
          accessToken: {
            displayName:
              caller.type === 'token' ? caller.token.name : 'Backstage token',
            role: 'read',
          },
        },
      });
    }),
  );
  router.get('/hf/api/models/:org/:name', modelInfo);
  router.get('/hf/api/models/:org/:name/revision/:rev', modelInfo);

  router.get(
    '/hf/api/models/:org/:name/refs',
    handle(async (req, res) => {
      const model = await authorizedModel(req);
      const { versions, active } = await repository.servable(model);
      if (!active) {
        throw new HfError(
          404,
          'RepoNotFound',
          `Repository ${repoIdOf(model)} has no approved version`,
        );
      }
      const commits = new Map<string, string>();
      for (const version of versions) {
        commits.set(
          version.id,
          (await repository.snapshot(model, version)).commit,
        );
      }
      res.setHeader('Cache-Control', 'private, no-cache');
      res.json({
        branches: [
          {
            name: 'main',
            ref: 'refs/heads/main',
            targetCommit: commits.get(active.id),
          },
        ],
        tags: versions.map(v => ({
          name: v.label,
          ref: `refs/tags/${v.label}`,
          targetCommit: commits.get(v.id),
        })),
        converts: [],
      });
    }),
  );

  const tree = handle(async (req, res) => {
    const revision = param(req, 'rev');
    const dir = (req.params as Record<string, string>)[0] ? filePath(req) : '';
    const snapshot = await authorizedSnapshot(req, revision);
    const recursive = bool(req.query.recursive);
    const expand = bool(req.query.expand);
    if (dir !== '') {
      const entry = snapshot.byPath.get(dir);
      if (!entry || entry.type !== 'directory') {
        throw entryNotFound(dir, snapshot.commit);
      }
    }
    const prefix = dir === '' ? '' : `${dir}/`;
    const matching = snapshot.entries.filter(e => {
      if (!e.path.startsWith(prefix)) {
        return false;
      }
      return recursive || !e.path.slice(prefix.length).includes('/');
    });
    const limitParam =
      req.query.limit !== undefined ? Number(req.query.limit) : undefined;
    if (
      limitParam !== undefined &&
      (!Number.isInteger(limitParam) || limitParam < 1)
    ) {
      throw new HfError(400, undefined, 'Invalid limit');
    }
    const limit = Math.min(limitParam ?? options.treePageSize, 10_000);
    const { offset } = readCursor(req.query.cursor);
    const page = matching.slice(offset, offset + limit);
    if (offset + limit < matching.length) {
      const base = await options.discovery.getExternalBaseUrl('model-hub');
      const url =
        `${base}/hf/api/models/${encodeURIComponent(
          param(req, 'org'),
        )}/${encodeURIComponent(param(req, 'name'))}/tree/${encodeURIComponent(
          revision,
        )}${dir ? `/${encodePath(dir)}` : ''}` +
        `?recursive=${recursive}&expand=${expand}&limit=${limit}&cursor=${writeCursor(
          { offset: offset + limit },
        )}`;
      res.setHeader('Link', `<${url}>; rel="next"`);
    }
    res.setHeader('X-Repo-Commit', snapshot.commit);
    res.setHeader('Cache-Control', 'private, no-cache');
    res.json(page.map(e => treeEntry(e, snapshot, expand)));
  });
  router.get('/hf/api/models/:org/:name/tree/:rev', tree);
  router.get('/hf/api/models/:org/:name/tree/:rev/*', tree);

  router.post(
    '/hf/api/models/:org/:name/paths-info/:rev',
    jsonBody(BODY_LIMITS.list),
    express.urlencoded({
      extended: false,
      limit: BODY_LIMITS.list,
      parameterLimit: 1000,
    }),
    handle(async (req, res) => {
      const body = (req.body ?? {}) as { paths?: unknown; expand?: unknown };
      const raw = body.paths;
      const list: unknown[] = Array.isArray(raw) ? raw : [raw];
      const paths = list
        .filter((p): p is string => typeof p === 'string')
        .map(p => trimChar(p, '/'));
      const snapshot = await authorizedSnapshot(req, param(req, 'rev'));
      const expand = bool(body.expand);
      const found: RepoEntry[] = [];
      for (const path of new Set(paths)) {
        const entry = snapshot.byPath.get(path);
        if (entry) {
          found.push(entry);
        }
      }
      res.setHeader('X-Repo-Commit', snapshot.commit);
      res.setHeader('Cache-Control', 'private, no-cache');
      res.json(found.map(e => treeEntry(e, snapshot, expand)));
    }),
  );

  /** Answers conditional and Range requests; false when nothing is left to send. */
  function preconditions(
    req: Request,
    res: Response,
    etag: string,
    size: number,
  ) {
    const ifNoneMatch = req.headers['if-none-match'];
    if (
      ifNoneMatch &&
      ifNoneMatch
        .split(',')
        .some(t => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')
    ) {
      res.status(304).end();
      return undefined;
    }
    if (size === 0) {
      // `Range: bytes=0-0` on an empty file is unsatisfiable, but clients
      // probe every file with it (JS fileDownloadInfo, transformers.js):
      // answer 200 with the size in Content-Range
      res.setHeader('Content-Range', 'bytes */0');
      return { type: 'none' } as const;
    }
    const ifRange = req.get('if-range');
    const range =
      ifRange && ifRange.trim().replace(/^W\//, '') !== etag
        ? ({ type: 'none' } as const)
        : parseRange(req.headers.range, size);
    if (range.type === 'unsatisfiable') {
      throw new HfError(416, undefined, 'Requested range not satisfiable', {
        'Content-Range': `bytes */${size}`,
      });
    }
    return range;
  }

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
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Disposition', contentDisposition(path));
    if (range.type === 'range') {
      res.status(206);
      res.setHeader(
        'Content-Range',
        `bytes ${range.start}-${range.end}/${file.size}`,
      );
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200);
      res.setHeader('Content-Length', String(file.size));
    }
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
    range: { type: 'none' } | { type: 'range'; start: number; end: number },
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
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('Content-Disposition', contentDisposition(path));
      if (range.type === 'range') {
        res.status(206);
        res.setHeader(
          'Content-Range',
          `bytes ${range.start}-${range.end}/${file.size}`,
        );
        res.setHeader('Content-Length', String(range.end - range.start + 1));
      } else {
        res.status(200);
        res.setHeader('Content-Length', String(file.size));
      }
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
