import { HttpStreamError } from './httpErrors';

/** The longest line of chunked framing (size, extensions) accepted. */
const MAX_CHUNK_LINE = 4096;

/** An HTTP token (header names). @internal */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a response head (status line and headers). @internal */
export function parseHead(head: string) {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!status) {
    throw new HttpStreamError(
      `Invalid HTTP status line '${lines[0].slice(0, 100)}'`,
    );
  }
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new HttpStreamError(
        `Invalid HTTP header line '${line.slice(0, 100)}'`,
      );
    }
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return {
    statusCode: Number(status[1]),
    statusMessage: status[2] ?? '',
    headers,
  };
}

/** How a response body is delimited, and the decoder's state. @internal */
export type Framing =
  | { kind: 'length'; left: number }
  | { kind: 'close' }
  | {
      kind: 'chunked';
      /** Bytes of chunk data left in the current chunk. */
      left: number;
      /** Partial framing line (size line, CRLF after data, trailers). */
      line: string;
      state: 'size' | 'data' | 'data-end' | 'trailer' | 'done';
    };

/** The framing of a response by its status and headers. @internal */
export function framingOf(
  statusCode: number,
  headers: Record<string, string>,
): Framing {
  if (statusCode === 204 || statusCode === 304 || statusCode < 200) {
    return { kind: 'length', left: 0 };
  }
  if (/(?:^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '')) {
    return { kind: 'chunked', left: 0, line: '', state: 'size' };
  }
  const value = headers['content-length'];
  if (value === undefined) {
    return { kind: 'close' };
  }
  const values = value.split(',').map(v => v.trim());
  if (
    !values.every(v => /^\d{1,16}$/.test(v) && v === values[0]) ||
    !Number.isSafeInteger(Number(values[0]))
  ) {
    throw new HttpStreamError(`Invalid Content-Length '${value}'`);
  }
  return { kind: 'length', left: Number(values[0]) };
}

/**
 * Decodes the bytes of one read of a chunked body: the chunks' data, as
 * views of `data`, go to `out`. Returns whether the body is complete (the
 * empty line after the trailers). @internal
 */
export function decodeChunked(
  framing: Extract<Framing, { kind: 'chunked' }>,
  data: Buffer,
  out: Buffer[],
): boolean {
  let pos = 0;
  while (pos < data.length && framing.state !== 'done') {
    if (framing.state === 'data') {
      const n = Math.min(framing.left, data.length - pos);
      out.push(data.subarray(pos, pos + n));
      pos += n;
      framing.left -= n;
      if (framing.left === 0) {
        framing.state = 'data-end';
      }
      continue;
    }
    const nl = data.indexOf(10, pos);
    const end = nl < 0 ? data.length : nl + 1;
    framing.line += data.subarray(pos, end).toString('latin1');
    pos = end;
    if (framing.line.length > MAX_CHUNK_LINE) {
      throw new HttpStreamError('A chunked framing line is too long');
    }
    if (nl < 0) {
      break;
    }
    if (!framing.line.endsWith('\r\n')) {
      throw new HttpStreamError(
        'A chunked framing line does not end with CRLF',
      );
    }
    const line = framing.line.slice(0, -2);
    framing.line = '';
    if (framing.state === 'size') {
      const m = /^([0-9a-fA-F]{1,13})[ \t]*(?:;.*)?$/.exec(line);
      if (!m) {
        throw new HttpStreamError(`Invalid chunk size '${line.slice(0, 40)}'`);
      }
      framing.left = parseInt(m[1], 16);
      framing.state = framing.left === 0 ? 'trailer' : 'data';
    } else if (framing.state === 'data-end') {
      if (line !== '') {
        throw new HttpStreamError('A chunk does not end with CRLF');
      }
      framing.state = 'size';
    } else if (line === '') {
      framing.state = 'done'; // the empty line after the trailers
    }
  }
  return framing.state === 'done';
}
