import express, { RequestHandler } from 'express';

/**
 * Size limits of JSON (and form) request bodies, per route. Uploads (PUT,
 * multipart, tus, ZIP packages) stream their bodies and keep their own
 * limits (`upload.maxFileSizeMiB`, `uploads.archive.*`).
 *
 * @internal
 */
export const BODY_LIMITS = {
  /** Small commands: sync, registration, promotion, tokens. */
  small: '16kb',
  /** Bodies with free text (descriptions, notes, comments: 10,000 characters). */
  text: '64kb',
  /** Lists of paths: the mirror's paths-info, download requests. */
  list: '1mb',
} as const;

/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 32;

/**
 * Throws (400) when a JSON text nests arrays and objects deeper than
 * `maxDepth`. One linear pass over the bytes, before `JSON.parse`: V8 parses
 * a deeply nested document in super-linear time (1 MB of `[` blocks the
 * event loop for about a second).
 *
 * @internal
 */
export function checkJsonDepth(buf: Uint8Array, maxDepth = MAX_JSON_DEPTH) {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c /* \ */) {
        i++;
      } else if (c === 0x22 /* " */) {
        inString = false;
      }
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > maxDepth) {
        throw Object.assign(
          new Error(
            `The JSON body nests arrays and objects deeper than ${maxDepth} levels`,
          ),
          { status: 400, statusCode: 400, expose: true },
        );
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
}

/**
 * `express.json` with a size limit (413 above it) and a nesting limit (400).
 *
 * @internal
 */
export function jsonBody(limit: string): RequestHandler {
  return express.json({
    limit,
    verify: (_req, _res, buf) => checkJsonDepth(buf),
  });
}
