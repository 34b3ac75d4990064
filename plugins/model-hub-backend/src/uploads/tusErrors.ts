import { IncomingMessage } from 'node:http';
import { Request, Response } from 'express';

const STATUS: Record<string, number> = {
  InputError: 400,
  AuthenticationError: 401,
  NotAllowedError: 403,
  NotFoundError: 404,
  ConflictError: 409,
};

/**
 * An error answered with a status and body, the shape tus hooks throw.
 *
 * @internal
 */
export class TusHttpError extends Error {
  constructor(readonly status_code: number, readonly body: string) {
    super(body);
    this.name = 'TusHttpError';
  }
}

/**
 * Turns an error into what tus hooks throw: `{ status_code, body }`. Errors
 * that already have that shape (the tus server's own `ERRORS`) pass
 * unchanged; Backstage errors keep their name and message; anything else is
 * a 500 without details.
 *
 * @internal
 */
export function tusError(error: unknown): never {
  const e = error as Error & { status_code?: number; body?: string };
  if (typeof e?.status_code === 'number') {
    throw e;
  }
  const status = STATUS[e?.name] ?? 500;
  throw new TusHttpError(
    status,
    JSON.stringify({
      error: {
        name: status === 500 ? 'Error' : e.name,
        message: status === 500 ? 'Internal error' : e.message,
      },
      response: { statusCode: status },
    }),
  );
}

/**
 * Answers an error the way the tus server does.
 *
 * @internal
 */
export function sendTusError(res: Response, error: unknown) {
  let status = 500;
  let body = 'Internal error';
  try {
    tusError(error);
  } catch (mapped) {
    status = (mapped as { status_code: number }).status_code;
    body = (mapped as { body: string }).body;
  }
  if (!res.headersSent) {
    res
      .status(status)
      .set('Tus-Resumable', '1.0.0')
      .type(body.startsWith('{') ? 'application/json' : 'text/plain')
      .send(body);
  }
}

/**
 * The Node.js request behind a web request of the tus server.
 *
 * @internal
 */
export function nodeRequest(req: globalThis.Request): Request {
  const node = (req as any).runtime?.node?.req as IncomingMessage | undefined;
  if (!node) {
    throw new Error('tus request without a Node.js request');
  }
  return node as Request;
}
