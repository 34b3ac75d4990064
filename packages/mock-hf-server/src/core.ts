/*
 * The request → response core shared by the node http server and the msw
 * handlers, so both behave identically.
 */
import { handleTestRoute } from './testRoutes';
import {
  commitDirs,
  CommitRecord,
  MockFault,
  MockHub,
  RepoRecord,
  safeDecode,
  StoredFile,
  TokenSpec,
  treeOid,
} from './hub';
import { readAll } from './content';

/** A transport-neutral request. */
export interface CoreRequest {
  method: string;
  /** Absolute request URL. */
  url: string;
  /** Request headers (names are matched case-insensitively). */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The request body, if any. */
  body?: Uint8Array;
}

/** A transport-neutral response. */
export interface CoreResponse {
  status: number;
  headers: Record<string, string>;
  /** Body chunks; absent for HEAD and bodiless responses. */
  body?: Iterable<Uint8Array>;
  /** After sending `body`, drop the connection (mid-body cut). */
  abortAfterBody?: boolean;
  /** Drop the connection without a response. */
  resetConnection?: boolean;
}

export interface CoreContext {
  /** Public base URL of the mock (may include a path prefix); used for absolute Link URLs. */
  baseUrl: string;
  /**
   * TEST ONLY: serve the routes under `/_test/` that change the hub while it
   * serves (`testRoutes.ts`: push a commit), to a token with access to every
   * repo. Off by default.
   */
  testRoutes?: boolean;
}

const EXPOSED_HEADERS = [
  'X-Repo-Commit',
  'X-Request-Id',
  'X-Error-Code',
  'X-Error-Message',
  'X-Total-Count',
  'ETag',
  'Link',
  'Accept-Ranges',
  'Content-Range',
  'Content-Length',
  'X-Linked-Size',
  'X-Linked-ETag',
  'Retry-After',
].join(',');

const SUB_RESOURCES = new Set([
  'revision',
  'tree',
  'paths-info',
  'refs',
  'commits',
  'xet-read-token',
]);

type Auth =
  | { kind: 'anonymous' }
  | { kind: 'token'; token: string; spec: TokenSpec };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

function headerGetter(headers: CoreRequest['headers']) {
  if (typeof (headers as Headers).get === 'function') {
    return (name: string) => (headers as Headers).get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) {
      lower.set(k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v);
    }
  }
  return (name: string) => lower.get(name.toLowerCase());
}

function jsonResponse(
  status: number,
  data: unknown,
  headers: Record<string, string> = {},
): CoreResponse {
  const body = Buffer.from(JSON.stringify(data));
  return {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(body.length),
      ...headers,
    },
    body: [body],
  };
}

function errorResponse(
  status: number,
  code: string | undefined,
  message: string,
  headers: Record<string, string> = {},
): CoreResponse {
  return jsonResponse(
    status,
    { error: message },
    {
      ...(code && { 'X-Error-Code': code }),
      'X-Error-Message': message.replace(/[^\x20-\x7e]/g, '?'),
      ...headers,
    },
  );
}

function truthy(value: string | null): boolean {
  return value !== null && /^(1|true|yes)$/i.test(value);
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeCursor(cursor: string | null): number {
  if (!cursor) {
    return 0;
  }
  try {
    const o = JSON.parse(Buffer.from(cursor, 'base64url').toString()).o;
    if (Number.isSafeInteger(o) && o >= 0) {
      return o;
    }
  } catch {
    // fall through
  }
  throw new HttpError(400, 'BadRequest', 'Invalid cursor');
}

function contentTypeFor(path: string): string {
  const ext = path.split('.').pop()?.toLowerCase();
  switch (ext) {
    case 'json':
      return 'application/json; charset=utf-8';
    case 'md':
      return 'text/markdown; charset=utf-8';
    case 'txt':
    case 'gitattributes':
    case 'model':
      return ext === 'model'
        ? 'application/octet-stream'
        : 'text/plain; charset=utf-8';
    case 'yaml':
    case 'yml':
      return 'text/yaml; charset=utf-8';
    case 'py':
      return 'text/x-python; charset=utf-8';
    default:
      return path.endsWith('.gitattributes')
        ? 'text/plain; charset=utf-8'
        : 'application/octet-stream';
  }
}

function* corrupt(chunks: Iterable<Uint8Array>): Iterable<Uint8Array> {
  let offset = 0;
  for (const chunk of chunks) {
    const copy = Buffer.from(chunk);
    for (let i = 0; i < copy.length; i++) {
      if ((offset + i) % 4096 === 0) {
        copy[i] ^= 0xff;
      }
    }
    offset += copy.length;
    yield copy;
  }
}

function* cutAfter(
  chunks: Iterable<Uint8Array>,
  limit: number,
): Iterable<Uint8Array> {
  let sent = 0;
  if (limit <= 0) {
    return;
  }
  for (const chunk of chunks) {
    const left = limit - sent;
    if (chunk.length >= left) {
      yield chunk.subarray(0, left);
      return;
    }
    sent += chunk.length;
    yield chunk;
  }
}

/** Parses a single `bytes=` range; undefined when absent/ignored, 'unsatisfiable' for 416. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) {
    return undefined;
  }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) {
    return undefined; // malformed or multi-range: ignore and serve 200
  }
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) {
      return 'unsatisfiable';
    }
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  let end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) {
    return undefined;
  }
  if (start >= size) {
    return 'unsatisfiable';
  }
  end = Math.min(end, size - 1);
  return { start, end };
}

/** Handles one request against the hub. Never throws. */
export async function handleHubRequest(
  hub: MockHub,
  req: CoreRequest,
  ctx: CoreContext,
): Promise<CoreResponse> {
  const url = new URL(req.url);
  const base = new URL(ctx.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const baseUrl = `${base.origin}${basePath}`;
  const method = req.method.toUpperCase();
  const getHeader = headerGetter(req.headers);
  const rawPath =
    basePath && url.pathname.startsWith(basePath)
      ? url.pathname.slice(basePath.length) || '/'
      : url.pathname;
  const requestId = `mock-${Math.random().toString(36).slice(2, 12)}`;

  const log = hub.logRequest({
    method,
    path: rawPath,
    search: url.search,
    url: req.url,
    range: getHeader('range'),
    authenticated: getHeader('authorization') !== undefined,
  });

  const common: Record<string, string> = {
    'X-Request-Id': requestId,
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': EXPOSED_HEADERS,
    Vary: 'Origin, Accept',
  };

  const finish = (res: CoreResponse, fault?: MockFault): CoreResponse => {
    res.headers = { ...common, ...res.headers, ...fault?.headers };
    log.status = res.status;
    if (method === 'HEAD') {
      delete res.body;
    }
    if (fault?.wrongBytes && res.body) {
      res.body = corrupt(res.body);
    }
    if (fault?.cutAfterBytes !== undefined) {
      res.body = cutAfter(res.body ?? [], fault.cutAfterBytes);
      res.abortAfterBody = true;
    }
    return res;
  };

  const decodedPath = safeDecode(rawPath);
  const fault = hub.takeFault(method, decodedPath, url.search);
  if (fault) {
    log.fault = JSON.stringify(fault);
    if (fault.delayMs) {
      await new Promise(resolve => setTimeout(resolve, fault.delayMs));
    }
    if (fault.resetConnection) {
      log.status = 0;
      return { status: 0, headers: {}, resetConnection: true };
    }
    if (fault.status !== undefined) {
      const defaultMessages: Record<number, string> = {
        429: 'You have exceeded our hourly quotas for action: resolve. We invite you to retry later.',
        500: "Internal Error - We're working hard to fix this as soon as possible!",
        502: 'Bad Gateway',
        503: 'Service Unavailable',
        504: 'Gateway Timeout',
      };
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) {
        headers['Retry-After'] = String(fault.retryAfter);
      }
      if (fault.status === 429) {
        headers.RateLimit = `"resolvers";r=0;t=${fault.retryAfter ?? 60}`;
        headers['RateLimit-Policy'] = '"fixed window";"resolvers";q=3000;w=300';
      }
      return finish(
        errorResponse(
          fault.status,
          fault.errorCode,
          fault.message ??
            defaultMessages[fault.status] ??
            `Mock error ${fault.status}`,
          headers,
        ),
        { ...fault, wrongBytes: false, cutAfterBytes: undefined },
      );
    }
  }

  try {
    if (method === 'OPTIONS') {
      return finish(
        {
          status: 204,
          headers: {
            'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
            'Access-Control-Allow-Headers':
              'Authorization, Range, Accept, Content-Type, If-None-Match',
            'Access-Control-Max-Age': '86400',
            'Content-Length': '0',
          },
        },
        fault,
      );
    }
    const auth = authenticate(hub, getHeader('authorization'));
    if (auth.kind === 'token') {
      log.user = auth.spec.user;
    }
    if (ctx.testRoutes && rawPath.startsWith('/_test/')) {
      const result = handleTestRoute(hub, {
        method,
        segments: decodeSegments(rawPath),
        token: auth.kind === 'token' ? auth.spec : undefined,
        body: req.body,
      });
      return finish(jsonResponse(result.status, result.data), fault);
    }
    const res = await route(hub, {
      method,
      url,
      rawPath,
      baseUrl,
      auth,
      getHeader,
      body: req.body,
    });
    return finish(res, fault);
  } catch (e) {
    if (e instanceof HttpError) {
      return finish(
        errorResponse(e.status, e.code, e.message, e.extraHeaders),
        fault,
      );
    }
    return finish(
      errorResponse(500, undefined, `Mock HF server error: ${String(e)}`),
      fault,
    );
  }
}

function authenticate(hub: MockHub, header: string | undefined): Auth {
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

interface RouteInput {
  method: string;
  url: URL;
  rawPath: string;
  baseUrl: string;
  auth: Auth;
  getHeader(name: string): string | undefined;
  body?: Uint8Array;
}

function decodeSegments(rawPath: string): string[] {
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

function hasRepoAccess(repo: RepoRecord, auth: Auth): boolean {
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

function repoNotFound(auth: Auth): HttpError {
  return new HttpError(
    auth.kind === 'anonymous' ? 401 : 404,
    'RepoNotFound',
    'Repository not found',
  );
}

function visibleRepo(hub: MockHub, id: string, auth: Auth): RepoRecord {
  const repo = hub.repos.get(id);
  if (!repo || (repo.privateRepo && !hasRepoAccess(repo, auth))) {
    throw repoNotFound(auth);
  }
  if (repo.disabled) {
    throw new HttpError(403, undefined, 'Access to this resource is disabled.');
  }
  return repo;
}

function checkGated(
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
function splitRevision(
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

async function route(hub: MockHub, input: RouteInput): Promise<CoreResponse> {
  const segs = decodeSegments(input.rawPath);
  const method = input.method === 'HEAD' ? 'GET' : input.method;

  if (segs[0] === 'api') {
    if (segs[1] === 'whoami-v2' && method === 'GET') {
      return whoami(input.auth);
    }
    if (segs[1] === 'models') {
      const rest = segs.slice(2);
      if (rest.length === 0) {
        if (method === 'GET') {
          return listModels(hub, input);
        }
      } else {
        const twoSeg = rest.length >= 2 && !SUB_RESOURCES.has(rest[1]);
        const id = twoSeg ? `${rest[0]}/${rest[1]}` : rest[0];
        const sub = rest.slice(twoSeg ? 2 : 1);
        return repoApi(hub, input, method, id, sub);
      }
    }
    if ((segs[1] === 'datasets' || segs[1] === 'spaces') && segs.length > 2) {
      throw repoNotFound(input.auth);
    }
    throw new HttpError(404, undefined, 'Not Found');
  }

  // file routes: /{org}/{name}/(resolve|raw)/{rev}/{path}
  if ((segs[0] === 'datasets' || segs[0] === 'spaces') && segs.length > 2) {
    throw repoNotFound(input.auth);
  }
  let kindIndex = -1;
  if (segs.length >= 3 && (segs[2] === 'resolve' || segs[2] === 'raw')) {
    kindIndex = 2;
    if (
      (segs[1] === 'resolve' || segs[1] === 'raw') &&
      hub.repos.has(segs[0]) &&
      !hub.repos.has(`${segs[0]}/${segs[1]}`)
    ) {
      kindIndex = 1;
    }
  } else if (segs.length >= 2 && (segs[1] === 'resolve' || segs[1] === 'raw')) {
    kindIndex = 1;
  }
  if (kindIndex > 0 && method === 'GET') {
    if (segs[0] === 'datasets' || segs[0] === 'spaces') {
      throw repoNotFound(input.auth);
    }
    const id = segs.slice(0, kindIndex).join('/');
    return serveFile(
      hub,
      input,
      id,
      segs[kindIndex] === 'raw',
      segs.slice(kindIndex + 1),
    );
  }
  throw new HttpError(404, undefined, 'Not Found');
}

function whoami(auth: Auth): CoreResponse {
  if (auth.kind !== 'token') {
    throw new HttpError(
      401,
      undefined,
      'Invalid credentials in Authorization header',
    );
  }
  const name = auth.spec.user ?? 'mock-user';
  return jsonResponse(200, {
    type: 'user',
    id: Buffer.from(name).toString('hex').padEnd(24, '0').slice(0, 24),
    name,
    fullname: name,
    isPro: false,
    orgs: [],
    auth: {
      type: 'access_token',
      accessToken: {
        displayName: 'mock token',
        role: auth.spec.role ?? 'read',
      },
    },
  });
}

function repoApi(
  hub: MockHub,
  input: RouteInput,
  method: string,
  id: string,
  sub: string[],
): CoreResponse {
  const repo = visibleRepo(hub, id, input.auth);
  const params = input.url.searchParams;

  if (sub.length === 0 && method === 'GET') {
    const commit = repo.commits.get(hub.headSha(repo.id))!;
    return modelInfoResponse(repo, commit, params);
  }
  switch (sub[0]) {
    case 'revision':
      if (method === 'GET' && sub.length >= 2) {
        const { commit } = splitRevision(hub, repo, sub.slice(1));
        return modelInfoResponse(repo, commit, params);
      }
      break;
    case 'tree':
      if (method === 'GET' && sub.length >= 2) {
        return treeResponse(hub, input, repo, sub.slice(1));
      }
      break;
    case 'paths-info':
      if (method === 'POST' && sub.length >= 2) {
        return pathsInfoResponse(hub, input, repo, sub.slice(1));
      }
      break;
    case 'refs':
      if (method === 'GET' && sub.length === 1) {
        return refsResponse(repo);
      }
      break;
    case 'commits':
      if (method === 'GET' && sub.length >= 2) {
        return commitsResponse(hub, input, repo, sub.slice(1));
      }
      break;
    default:
      break;
  }
  throw new HttpError(404, undefined, 'Not Found');
}

// ------------------------------------------------------------------ model info

function readJsonFile(commit: CommitRecord, path: string): any {
  const file = commit.files.get(path);
  if (!file || file.size > 1024 * 1024) {
    return undefined;
  }
  try {
    return JSON.parse(readAll(file.source).toString('utf8'));
  } catch {
    return undefined;
  }
}

function infoConfig(commit: CommitRecord): Record<string, unknown> | undefined {
  const config = readJsonFile(commit, 'config.json') ?? commit.config;
  const modelIndex = readJsonFile(commit, 'model_index.json');
  const tokenizerConfig = readJsonFile(commit, 'tokenizer_config.json');
  const out: Record<string, unknown> = {};
  if (config && typeof config === 'object') {
    if (config.architectures) out.architectures = config.architectures;
    if (config.model_type) out.model_type = config.model_type;
  }
  if (modelIndex && typeof modelIndex === 'object') {
    out.diffusers = { _class_name: modelIndex._class_name };
  }
  if (tokenizerConfig && typeof tokenizerConfig === 'object') {
    const tc: Record<string, unknown> = {};
    for (const key of [
      'bos_token',
      'eos_token',
      'pad_token',
      'unk_token',
      'chat_template',
    ]) {
      if (tokenizerConfig[key] !== undefined) tc[key] = tokenizerConfig[key];
    }
    out.tokenizer_config = tc;
  }
  return Object.keys(out).length ? out : undefined;
}

function asArray(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function infoTags(repo: RepoRecord, commit: CommitRecord): string[] {
  const card = commit.cardData ?? {};
  const tags = new Set<string>();
  if (repo.libraryName) tags.add(repo.libraryName);
  const paths = [...commit.files.keys()];
  if (paths.some(p => p.endsWith('.safetensors'))) tags.add('safetensors');
  if (paths.some(p => p.endsWith('.onnx'))) tags.add('onnx');
  if (paths.some(p => p.endsWith('.gguf'))) tags.add('gguf');
  const modelType = readJsonFile(commit, 'config.json')?.model_type;
  if (typeof modelType === 'string') tags.add(modelType);
  for (const t of asArray(card.tags)) tags.add(t);
  for (const t of repo.tags) tags.add(t);
  if (repo.pipelineTag) tags.add(repo.pipelineTag);
  for (const l of asArray(card.language)) tags.add(l);
  for (const d of asArray(card.datasets)) tags.add(`dataset:${d}`);
  for (const b of asArray(card.base_model)) tags.add(`base_model:${b}`);
  for (const l of asArray(card.license)) tags.add(`license:${l}`);
  tags.add('region:us');
  return [...tags];
}

function sibling(file: StoredFile, blobs: boolean) {
  if (!blobs) {
    return { rfilename: file.path };
  }
  return {
    rfilename: file.path,
    size: file.size,
    blobId: file.oid,
    ...(file.lfs && {
      lfs: {
        sha256: file.sha256,
        size: file.size,
        pointerSize: file.pointer.length,
      },
    }),
  };
}

/** @internal Builds the full model-info JSON of a repo at a commit. */
export function modelInfoJson(
  repo: RepoRecord,
  commit: CommitRecord,
  options: { blobs?: boolean } = {},
): Record<string, unknown> {
  const files = [...commit.files.values()].sort((a, b) =>
    a.path < b.path ? -1 : 1,
  );
  const cardData = commit.cardData;
  const info: Record<string, unknown> = {
    _id: repo.objectId,
    id: repo.id,
    modelId: repo.id,
    author: repo.author,
    sha: commit.id,
    lastModified: commit.date,
    createdAt: repo.createdAt,
    private: repo.privateRepo,
    gated: repo.gated,
    disabled: repo.disabled,
    downloads: repo.downloads,
    downloadsAllTime: repo.downloads * 3,
    likes: repo.likes,
    library_name: repo.libraryName,
    tags: infoTags(repo, commit),
    pipeline_tag: repo.pipelineTag,
    cardData,
    config: infoConfig(commit),
    'model-index': cardData?.['model-index'],
    siblings: files.map(f => sibling(f, options.blobs ?? false)),
    spaces: [],
    safetensors: repo.safetensors,
    usedStorage: files.reduce((n, f) => n + f.size, 0),
    ...repo.extraInfo,
  };
  for (const key of Object.keys(info)) {
    if (info[key] === undefined) {
      delete info[key];
    }
  }
  return info;
}

function selectExpanded(
  info: Record<string, unknown>,
  expand: string[],
): Record<string, unknown> {
  if (expand.length === 0) {
    return info;
  }
  const out: Record<string, unknown> = { _id: info._id, id: info.id };
  for (const key of expand) {
    if (info[key] !== undefined) {
      out[key] = info[key];
    }
  }
  return out;
}

function modelInfoResponse(
  repo: RepoRecord,
  commit: CommitRecord,
  params: URLSearchParams,
): CoreResponse {
  const info = modelInfoJson(repo, commit, {
    blobs: truthy(params.get('blobs')),
  });
  return jsonResponse(200, selectExpanded(info, params.getAll('expand')));
}

function listModels(hub: MockHub, input: RouteInput): CoreResponse {
  const params = input.url.searchParams;
  const search = params.get('search')?.toLowerCase();
  const author = params.get('author');
  const filters = params.getAll('filter').flatMap(f => f.split(','));
  const pipelineTag = params.get('pipeline_tag');
  const expand = params.getAll('expand');
  const full = truthy(params.get('full'));
  const limitParam = Number(params.get('limit'));
  const pageSize =
    Number.isSafeInteger(limitParam) && limitParam > 0
      ? limitParam
      : hub.pageSize.models;
  const sort = params.get('sort');
  const direction = params.get('direction') === '1' ? 1 : -1;

  let items = [...hub.repos.values()]
    .filter(r => !r.privateRepo || hasRepoAccess(r, input.auth))
    .filter(r => !search || r.id.toLowerCase().includes(search))
    .filter(r => !author || r.author === author)
    .map(r => {
      const commit = r.commits.get(hub.headSha(r.id))!;
      return { repo: r, commit, info: modelInfoJson(r, commit) };
    })
    .filter(({ info }) => !pipelineTag || info.pipeline_tag === pipelineTag)
    .filter(({ info }) =>
      filters.every(
        f =>
          (info.tags as string[]).includes(f) ||
          info.library_name === f ||
          info.id === f,
      ),
    );
  if (sort && sort !== 'trendingScore') {
    const key = sort === 'id' ? 'id' : sort;
    items = items.sort((a, b) => {
      const va = a.info[key] as any;
      const vb = b.info[key] as any;
      if (va === vb) return a.repo.id < b.repo.id ? -1 : 1;
      return (va < vb ? -1 : 1) * direction;
    });
  }
  const total = items.length;
  const offset = decodeCursor(params.get('cursor'));
  const page = items.slice(offset, offset + pageSize).map(({ info }) => {
    if (expand.length) {
      return selectExpanded(info, expand);
    }
    const summary: Record<string, unknown> = {
      _id: info._id,
      id: info.id,
      likes: info.likes,
      trendingScore: 0,
      private: info.private,
      downloads: info.downloads,
      tags: info.tags,
      pipeline_tag: info.pipeline_tag,
      library_name: info.library_name,
      createdAt: info.createdAt,
      modelId: info.id,
    };
    if (full) {
      Object.assign(summary, {
        author: info.author,
        sha: info.sha,
        lastModified: info.lastModified,
        gated: info.gated,
        disabled: info.disabled,
        siblings: info.siblings,
      });
    }
    for (const key of Object.keys(summary)) {
      if (summary[key] === undefined) delete summary[key];
    }
    return summary;
  });
  const headers: Record<string, string> = { 'X-Total-Count': String(total) };
  if (offset + pageSize < total) {
    const next = new URLSearchParams(params);
    next.set('cursor', encodeCursor(offset + pageSize));
    headers.Link = `<${input.baseUrl}/api/models?${next}>; rel="next"`;
  }
  return jsonResponse(200, page, headers);
}

// ------------------------------------------------------------------ tree

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

function treeResponse(
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

function pathsInfoResponse(
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

function refsResponse(repo: RepoRecord): CoreResponse {
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

function commitsResponse(
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

// ------------------------------------------------------------------ files

function serveFile(
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
