/*
 * The request → response core shared by the node http server and the msw
 * handlers, so both behave identically.
 */
import { handleTestRoute } from './testRoutes';
import { MockFault, MockHub, safeDecode } from './hub';
import {
  authenticate,
  decodeSegments,
  repoNotFound,
  splitRevision,
  visibleRepo,
} from './coreAccess';
import {
  Auth,
  CoreContext,
  CoreRequest,
  CoreResponse,
  corrupt,
  cutAfter,
  errorResponse,
  EXPOSED_HEADERS,
  headerGetter,
  HttpError,
  jsonResponse,
  RouteInput,
} from './coreHttp';
import { listModels, modelInfoResponse } from './modelInfo';
import { serveFile } from './serveFile';
import {
  commitsResponse,
  pathsInfoResponse,
  refsResponse,
  treeResponse,
} from './treeRoutes';

export type { CoreContext, CoreRequest, CoreResponse } from './coreHttp';
export { modelInfoJson } from './modelInfo';

const SUB_RESOURCES = new Set([
  'revision',
  'tree',
  'paths-info',
  'refs',
  'commits',
  'xet-read-token',
]);

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
