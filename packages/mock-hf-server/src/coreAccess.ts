/*
 * Who a request is (tokens) and which repos and revisions it may see.
 */
import { CommitRecord, MockHub, RepoRecord } from './hub';
import { Auth, HttpError } from './coreHttp';

export function authenticate(hub: MockHub, header: string | undefined): Auth {
  if (!header) {
    return { kind: 'anonymous' };
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const token = m?.[1];
  const spec = token ? hub.tokens.get(token) : undefined;
  if (token && spec) {
    return { kind: 'token', token, spec };
  }
  if (token && hub.acceptUnknownTokens) {
    return { kind: 'token', token, spec: { user: 'unknown-token-user' } };
  }
  throw new HttpError(
    401,
    undefined,
    'Invalid credentials in Authorization header',
  );
}

export function decodeSegments(rawPath: string): string[] {
  return rawPath
    .split('/')
    .filter(s => s !== '')
    .map(s => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new HttpError(400, 'BadRequest', 'Malformed URL');
      }
    });
}

export function hasRepoAccess(repo: RepoRecord, auth: Auth): boolean {
  if (auth.kind !== 'token') {
    return false;
  }
  const { access, user } = auth.spec;
  return (
    access === '*' ||
    user === repo.author ||
    (Array.isArray(access) && access.includes(repo.id))
  );
}

export function repoNotFound(auth: Auth): HttpError {
  return new HttpError(
    auth.kind === 'anonymous' ? 401 : 404,
    'RepoNotFound',
    'Repository not found',
  );
}

export function visibleRepo(hub: MockHub, id: string, auth: Auth): RepoRecord {
  const repo = hub.repos.get(id);
  if (!repo || (repo.privateRepo && !hasRepoAccess(repo, auth))) {
    throw repoNotFound(auth);
  }
  if (repo.disabled) {
    throw new HttpError(403, undefined, 'Access to this resource is disabled.');
  }
  return repo;
}

export function checkGated(
  repo: RepoRecord,
  auth: Auth,
  path: string,
  baseUrl: string,
) {
  if (!repo.gated || hasRepoAccess(repo, auth)) {
    return;
  }
  if (path === 'README.md' || path === '.gitattributes') {
    return;
  }
  if (auth.kind === 'anonymous') {
    throw new HttpError(
      401,
      'GatedRepo',
      `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
    );
  }
  throw new HttpError(
    403,
    'GatedRepo',
    `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${baseUrl}/${repo.id} to ask for access.`,
  );
}

/** Resolves `rev[/more/rev/segments]/path...` against the repo's refs. */
export function splitRevision(
  hub: MockHub,
  repo: RepoRecord,
  segs: string[],
): { rev: string; commit: CommitRecord; path: string } {
  for (let k = 1; k <= segs.length; k++) {
    const rev = segs.slice(0, k).join('/');
    const sha = hub.resolveRevision(repo.id, rev);
    if (sha) {
      return {
        rev,
        commit: repo.commits.get(sha)!,
        path: segs.slice(k).join('/'),
      };
    }
  }
  throw new HttpError(
    404,
    'RevisionNotFound',
    `Invalid rev id: ${segs[0] ?? ''}`,
  );
}
