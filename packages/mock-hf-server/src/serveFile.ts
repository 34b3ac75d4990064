/*
 * The resolve and raw file routes.
 */
import { MockHub } from './hub';
import { checkGated, splitRevision, visibleRepo } from './coreAccess';
import {
  contentTypeFor,
  CoreResponse,
  errorResponse,
  HttpError,
  parseRange,
  RouteInput,
} from './coreHttp';

export function serveFile(
  hub: MockHub,
  input: RouteInput,
  id: string,
  raw: boolean,
  segs: string[],
): CoreResponse {
  const repo = visibleRepo(hub, id, input.auth);
  const { commit, path } = splitRevision(hub, repo, segs);
  const file = commit.files.get(path);
  if (!file) {
    throw new HttpError(404, 'EntryNotFound', 'Entry not found', {
      'X-Repo-Commit': commit.id,
    });
  }
  checkGated(repo, input.auth, path, input.baseUrl);

  const servePointer = raw && file.lfs;
  const size = servePointer ? file.pointer.length : file.size;
  const etag = `"${servePointer ? file.oid : file.etag}"`;
  const headers: Record<string, string> = {
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'X-Repo-Commit': commit.id,
    'Content-Type': servePointer
      ? 'text/plain; charset=utf-8'
      : contentTypeFor(path),
    'Cache-Control': 'public, max-age=0, must-revalidate, no-transform',
  };
  if (file.lfs && !raw) {
    headers['X-Linked-Etag'] = `"${file.sha256}"`;
    headers['X-Linked-Size'] = String(file.size);
    const name = path.split('/').pop()!;
    headers[
      'Content-Disposition'
    ] = `inline; filename*=UTF-8''${encodeURIComponent(
      name,
    )}; filename="${name.replace(/[^\x20-\x7e]|"/g, '_')}";`;
  }
  const chunks = (start: number, end: number): Iterable<Uint8Array> =>
    servePointer
      ? [file.pointer.subarray(start, end)]
      : file.source.chunks(start, end);

  const ifNoneMatch = input.getHeader('if-none-match');
  if (ifNoneMatch && ifNoneMatch.split(',').some(t => t.trim() === etag)) {
    return { status: 304, headers };
  }

  if (size === 0) {
    // Zero-length files: ignore Range (a strict 416 breaks the JS client).
    return {
      status: 200,
      headers: {
        ...headers,
        'Content-Length': '0',
        'Content-Range': 'bytes */0',
      },
      body: [],
    };
  }
  const range = parseRange(input.getHeader('range'), size);
  if (range === 'unsatisfiable') {
    return errorResponse(416, undefined, 'Requested Range Not Satisfiable', {
      ...headers,
      'Content-Range': `bytes */${size}`,
    });
  }
  if (range) {
    return {
      status: 206,
      headers: {
        ...headers,
        'Content-Length': String(range.end - range.start + 1),
        'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      },
      body: chunks(range.start, range.end + 1),
    };
  }
  return {
    status: 200,
    headers: { ...headers, 'Content-Length': String(size) },
    body: chunks(0, size),
  };
}
