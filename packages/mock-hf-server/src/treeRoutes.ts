/*
 * The tree, paths-info, refs and commits routes of a repo.
 */
import { commitDirs, CommitRecord, MockHub, RepoRecord, treeOid } from './hub';
import { splitRevision } from './coreAccess';
import {
  CoreResponse,
  decodeCursor,
  encodeCursor,
  encodePath,
  HttpError,
  jsonResponse,
  RouteInput,
  truthy,
} from './coreHttp';
import { asArray } from './modelInfo';

function lastTouching(
  repo: RepoRecord,
  commit: CommitRecord,
  path: string,
  isDir: boolean,
): CommitRecord {
  const oidAt = (c: CommitRecord) => {
    if (isDir) {
      return commitDirs(c).has(path) ? treeOid(c, path) : undefined;
    }
    return c.files.get(path)?.oid;
  };
  let current = commit;
  const oid = oidAt(commit);
  while (current.parent) {
    const parent = repo.commits.get(current.parent);
    if (!parent || oidAt(parent) !== oid) {
      break;
    }
    current = parent;
  }
  return current;
}

function treeEntry(
  repo: RepoRecord,
  commit: CommitRecord,
  path: string,
  expand: boolean,
): Record<string, unknown> | undefined {
  const file = commit.files.get(path);
  const isDir = !file && commitDirs(commit).has(path) && path !== '';
  if (!file && !isDir) {
    return undefined;
  }
  const entry: Record<string, unknown> = file
    ? {
        type: 'file',
        oid: file.oid,
        size: file.size,
        ...(file.lfs && {
          lfs: {
            oid: file.sha256,
            size: file.size,
            pointerSize: file.pointer.length,
          },
        }),
        path,
      }
    : { type: 'directory', oid: treeOid(commit, path), size: 0, path };
  if (expand) {
    const last = lastTouching(repo, commit, path, isDir);
    entry.lastCommit = { id: last.id, title: last.title, date: last.date };
    if (file) {
      entry.securityFileStatus = {
        status: 'safe',
        avScan: { virusFound: false, virusNames: null },
        pickleImportScan: { highestSafetyLevel: 'innocuous', imports: [] },
      };
    }
  }
  return entry;
}

function sortedChildren(commit: CommitRecord, dir: string): string[] {
  // children are unique, so a two-way comparison is enough (code-unit order)
  return [...(commitDirs(commit).get(dir) ?? [])].sort((a, b) =>
    a < b ? -1 : 1,
  );
}

export function treeResponse(
  hub: MockHub,
  input: RouteInput,
  repo: RepoRecord,
  segs: string[],
): CoreResponse {
  const { rev, commit, path } = splitRevision(hub, repo, segs);
  const params = input.url.searchParams;
  const recursive = truthy(params.get('recursive'));
  const expand = truthy(params.get('expand'));
  const dirs = commitDirs(commit);
  if (!dirs.has(path)) {
    throw new HttpError(
      404,
      'EntryNotFound',
      `Entry not found: ${path} does not exist on "${rev}"`,
      { 'X-Repo-Commit': commit.id },
    );
  }
  const paths: string[] = [];
  const walk = (dir: string) => {
    for (const child of sortedChildren(commit, dir)) {
      paths.push(child);
      if (recursive && dirs.has(child)) {
        walk(child);
      }
    }
  };
  walk(path);
  const limitParam = Number(params.get('limit'));
  const pageSize = Math.max(
    1,
    Number.isSafeInteger(limitParam) && limitParam > 0
      ? Math.min(limitParam, hub.pageSize.tree)
      : hub.pageSize.tree,
  );
  const offset = decodeCursor(params.get('cursor'));
  const page = paths
    .slice(offset, offset + pageSize)
    .map(p => treeEntry(repo, commit, p, expand)!);
  const headers: Record<string, string> = { 'X-Repo-Commit': commit.id };
  if (offset + pageSize < paths.length) {
    const next = new URLSearchParams(params);
    next.set('recursive', String(recursive));
    next.set('expand', String(expand));
    next.set('limit', String(pageSize));
    next.set('cursor', encodeCursor(offset + pageSize));
    headers.Link = `<${input.baseUrl}/api/models/${encodePath(
      repo.id,
    )}/tree/${encodeURIComponent(rev)}${
      path ? `/${encodePath(path)}` : ''
    }?${next}>; rel="next"`;
  }
  return jsonResponse(200, page, headers);
}

export function pathsInfoResponse(
  hub: MockHub,
  input: RouteInput,
  repo: RepoRecord,
  segs: string[],
): CoreResponse {
  const { commit } = splitRevision(hub, repo, segs);
  const text = input.body ? Buffer.from(input.body).toString('utf8') : '';
  const contentType = input.getHeader('content-type') ?? '';
  let paths: string[] = [];
  let expand = false;
  if (contentType.includes('json') || /^\s*\{/.test(text)) {
    let body: any;
    try {
      body = JSON.parse(text || '{}');
    } catch {
      throw new HttpError(400, 'BadRequest', 'Invalid JSON body');
    }
    paths = asArray(body.paths);
    expand = body.expand === true || truthy(String(body.expand ?? ''));
  } else {
    const form = new URLSearchParams(text);
    paths = form.getAll('paths');
    expand = truthy(form.get('expand'));
  }
  const seen = new Set<string>();
  const entries: Record<string, unknown>[] = [];
  for (const raw of paths) {
    const p = raw.replace(/^\/+|\/+$/g, '');
    if (seen.has(p)) continue;
    seen.add(p);
    const entry = treeEntry(repo, commit, p, expand);
    if (entry) {
      entries.push(entry);
    }
  }
  return jsonResponse(200, entries, { 'X-Repo-Commit': commit.id });
}

export function refsResponse(repo: RepoRecord): CoreResponse {
  return jsonResponse(200, {
    branches: [...repo.branches].map(([name, sha]) => ({
      name,
      ref: `refs/heads/${name}`,
      targetCommit: sha,
    })),
    tags: [...repo.gitTags].map(([name, sha]) => ({
      name,
      ref: `refs/tags/${name}`,
      targetCommit: sha,
    })),
    converts: [],
  });
}

export function commitsResponse(
  hub: MockHub,
  input: RouteInput,
  repo: RepoRecord,
  segs: string[],
): CoreResponse {
  const { rev, commit } = splitRevision(hub, repo, segs);
  const history: CommitRecord[] = [];
  let current: CommitRecord | undefined = commit;
  while (current) {
    history.push(current);
    current = current.parent ? repo.commits.get(current.parent) : undefined;
  }
  const params = input.url.searchParams;
  const offset = decodeCursor(params.get('cursor'));
  const pageSize = hub.pageSize.commits;
  const page = history.slice(offset, offset + pageSize).map(c => ({
    id: c.id,
    title: c.title,
    message: c.message,
    authors: [{ user: c.author, avatar: '' }],
    date: c.date,
  }));
  const headers: Record<string, string> = {
    'X-Total-Count': String(history.length),
  };
  if (offset + pageSize < history.length) {
    const next = new URLSearchParams(params);
    next.set('cursor', encodeCursor(offset + pageSize));
    headers.Link = `<${input.baseUrl}/api/models/${encodePath(
      repo.id,
    )}/commits/${encodeURIComponent(rev)}?${next}>; rel="next"`;
  }
  return jsonResponse(200, page, headers);
}
