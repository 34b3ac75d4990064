import type { Response } from 'express';

/** The result of parsing a Range header against a size. @internal */
export type ParsedRange =
  | { type: 'none' }
  | { type: 'unsatisfiable' }
  | { type: 'range'; start: number; end: number };

/**
 * Parses a `Range: bytes=...` header for a single range. Multiple ranges and
 * other units are ignored (the whole content is sent, which RFC 9110
 * allows); a syntactically valid range outside the content is unsatisfiable.
 *
 * @internal
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ParsedRange {
  if (!header) {
    return { type: 'none' };
  }
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) {
    return { type: 'none' };
  }
  if (match[1] === '') {
    // suffix range: the last N bytes
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) {
      return { type: 'unsatisfiable' };
    }
    return { type: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || start > end) {
    return { type: 'unsatisfiable' };
  }
  return { type: 'range', start, end };
}

/**
 * Writes the status and headers of a file response: Content-Type
 * (application/octet-stream), Content-Disposition, and either 206 with
 * Content-Range and the range's Content-Length or 200 with the whole
 * size's Content-Length.
 *
 * @internal
 */
export function writeFileHead(
  res: Response,
  file: {
    size: number;
    disposition: string;
    range: { type: 'none' } | { type: 'range'; start: number; end: number };
  },
): void {
  const { size, disposition, range } = file;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Disposition', disposition);
  if (range.type === 'range') {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(size));
  }
}
