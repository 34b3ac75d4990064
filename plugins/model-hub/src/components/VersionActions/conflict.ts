/** The HTTP status of an error of the Model Hub client, if it has one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const e = error as { statusCode?: number; response?: { status?: number } };
  return e.statusCode ?? e.response?.status;
}

/** Whether an error is a 409: someone changed the thing first. */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

/** The message of an error, without the client's `Request failed…` prefix. */
export function messageOf(error: unknown): string {
  const e = error as {
    message?: string;
    body?: { error?: { message?: string } };
  };
  return e?.body?.error?.message ?? e?.message ?? String(error);
}

/** `user:default/alice` → `alice`. */
export function shortRef(ref: string | undefined): string {
  return (ref ?? '').replace(/^[a-z]+:(default\/)?/, '');
}
