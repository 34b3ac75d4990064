/*
 * The transport-neutral request and response of the mock Hub, and the
 * HTTP helpers its routes share (errors, JSON, cursors, ranges, faults).
 */
import { TokenSpec } from './hub';

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

export const EXPOSED_HEADERS = [
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

export type Auth =
  | { kind: 'anonymous' }
  | { kind: 'token'; token: string; spec: TokenSpec };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function headerGetter(headers: CoreRequest['headers']) {
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

export function jsonResponse(
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

export function errorResponse(
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

export function truthy(value: string | null): boolean {
  return value !== null && /^(1|true|yes)$/i.test(value);
}

export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

export function decodeCursor(cursor: string | null): number {
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

export function contentTypeFor(path: string): string {
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

export function* corrupt(chunks: Iterable<Uint8Array>): Iterable<Uint8Array> {
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

export function* cutAfter(
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
export function parseRange(
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

export interface RouteInput {
  method: string;
  url: URL;
  rawPath: string;
  baseUrl: string;
  auth: Auth;
  getHeader(name: string): string | undefined;
  body?: Uint8Array;
}
