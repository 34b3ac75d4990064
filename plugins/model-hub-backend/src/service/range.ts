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
