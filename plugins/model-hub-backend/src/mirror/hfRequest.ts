import { DiscoveryService, LoggerService } from '@backstage/backend-plugin-api';
import { Request, Response } from 'express';
import { HubModel } from '../database/types';
import { ArtifactStore } from '../store/ArtifactStore';
import { parseRange } from '../service/range';
import { MirrorAccess } from './access';
import { HfError } from './errors';
import { MirrorRepository, RepoEntry, RepoSnapshot } from './repository';
import { OnDemandFetcher } from './onDemandFetch';

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

/**
 * What the route groups of the mirror share: their options, the handler
 * wrapper that answers errors the Hub's way, and the authorization of a
 * request's repo.
 *
 * @internal
 */
export type HfRouteContext = {
  options: MirrorRoutesOptions;
  handle: (
    fn: (req: Request, res: Response) => Promise<void>,
  ) => (req: Request, res: Response) => Promise<void>;
  /** Authenticates, finds the model and checks the download permission. */
  authorizedModel: (req: Request) => Promise<HubModel>;
  authorizedSnapshot: (req: Request, revision: string) => Promise<RepoSnapshot>;
};

/** A byte range to send, or none (the whole content). */
export type SendRange =
  | { type: 'none' }
  | { type: 'range'; start: number; end: number };

/** Headers a browser client (transformers.js, @huggingface/hub) must read. */
export const EXPOSED_HEADERS = [
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

export function bool(value: unknown): boolean {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  return v === true || v === 'true' || v === 'True' || v === '1';
}

export function param(req: Request, name: string): string {
  return String((req.params as Record<string, string>)[name] ?? '');
}

/** The file path of a request (`*`), with no empty or dot segments. */
export function filePath(req: Request): string {
  const path = param(req, '0').replace(/^\/+/, '');
  if (
    path.split('/').some(s => s === '' || s === '.' || s === '..') ||
    path.includes('\0')
  ) {
    throw new HfError(400, undefined, `Invalid path '${path}'`);
  }
  return path;
}

export function toHfError(error: unknown): HfError {
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
export function treeEntry(
  entry: RepoEntry,
  snapshot: RepoSnapshot,
  expand: boolean,
) {
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

export function contentDisposition(path: string): string {
  const base = path.split('/').pop()!;
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename*=UTF-8''${encodeURIComponent(
    base,
  )}; filename="${ascii}"`;
}

export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

type Cursor = { offset: number };

export function readCursor(value: unknown): Cursor {
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

export function writeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ o: cursor.offset })).toString(
    'base64url',
  );
}

/** Answers conditional and Range requests; undefined when nothing is left to send. */
export function preconditions(
  req: Request,
  res: Response,
  etag: string,
  size: number,
): SendRange | undefined {
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
