import { Response } from 'express';

/**
 * An error answered the way the Hugging Face Hub answers: a JSON body
 * `{"error": message}` and the headers `X-Error-Code` and `X-Error-Message`
 * (HEAD responses have no body, so clients read the header).
 *
 * @internal
 */
export class HfError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HfError';
  }
}

/** Header values must be latin-1 without control characters. */
function headerSafe(message: string): string {
  return message.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

/** Sends an {@link HfError}. @internal */
export function sendHfError(
  res: Response,
  method: string,
  error: HfError,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) {
    res.setHeader(name, value);
  }
  if (error.code) {
    res.setHeader('X-Error-Code', error.code);
  }
  res.setHeader('X-Error-Message', headerSafe(error.message));
  res.setHeader('Cache-Control', 'no-store, no-transform');
  const body = JSON.stringify({ error: error.message });
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(body)));
  if (method === 'HEAD') {
    res.end();
  } else {
    res.end(body);
  }
}

export const repoNotFound = (repoId: string, status = 404) =>
  new HfError(
    status,
    'RepoNotFound',
    `Repository Not Found for url: ${repoId}. Please make sure you specified the correct repo_id and that you have access to it.`,
  );

export const revisionNotFound = (repoId: string, revision: string) =>
  new HfError(
    404,
    'RevisionNotFound',
    `Invalid rev id: ${revision} (no approved version of ${repoId} has this name or commit)`,
  );

export const entryNotFound = (path: string, commit: string) =>
  new HfError(404, 'EntryNotFound', `Entry not found: ${path}`, {
    'X-Repo-Commit': commit,
  });
