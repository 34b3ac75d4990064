/** The answer of a source's status check. @internal */
export type HubAccountCheck = {
  reachable: boolean;
  status?: number;
  account?: string;
  error?: string;
  rateLimit?: {
    limited: boolean;
    remaining?: number;
    limit?: number;
    resetSeconds?: number;
    policy?: string;
  };
};

/**
 * One request of the status check of a source, without retries: with a
 * token, `GET /api/whoami-v2` (200: the token is valid, 401: it is not);
 * without one, `GET /api/models?limit=1` (reachability). Reports the
 * rate-limit headers the answer carried. Network errors are answered as
 * unreachable, never thrown.
 *
 * @internal
 */
export async function checkHubAccount(
  hub: { endpoint: string; token?: string; fetch: typeof fetch },
  options: { timeoutMs?: number } = {},
): Promise<HubAccountCheck> {
  const { endpoint, token } = hub;
  const url = token
    ? `${endpoint}/api/whoami-v2`
    : `${endpoint}/api/models?limit=1`;
  let res: Response;
  try {
    res = await hub.fetch(url, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      redirect: 'manual',
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } })
      .cause;
    const detail = cause?.code ?? cause?.message;
    return {
      reachable: false,
      error: `${(error as Error).message}${detail ? ` (${detail})` : ''}`,
    };
  }
  const header = (name: string) => res.headers.get(name) ?? undefined;
  const num = (v?: string) =>
    v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  // IETF draft headers (RateLimit: "api";r=..;t=..) and the X- variants
  const combined = header('ratelimit');
  const draft = combined ? /r=(\d+).*?t=(\d+)/.exec(combined) : null;
  const remaining =
    num(header('ratelimit-remaining') ?? header('x-ratelimit-remaining')) ??
    (draft ? Number(draft[1]) : undefined);
  const limit = num(header('ratelimit-limit') ?? header('x-ratelimit-limit'));
  const resetSeconds =
    num(
      header('ratelimit-reset') ??
        header('x-ratelimit-reset') ??
        header('retry-after'),
    ) ?? (draft ? Number(draft[2]) : undefined);
  const limited = res.status === 429;
  const rateLimit =
    limited || remaining !== undefined || limit !== undefined || combined
      ? {
          limited,
          remaining,
          limit,
          resetSeconds,
          policy: header('ratelimit-policy'),
        }
      : undefined;
  let account: string | undefined;
  let error: string | undefined;
  const text = await res.text().catch(() => '');
  if (res.ok && token) {
    try {
      const body = JSON.parse(text.slice(0, 1_000_000));
      account = typeof body?.name === 'string' ? body.name : undefined;
    } catch {
      error = 'whoami-v2 did not answer JSON';
    }
  } else if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      message = JSON.parse(text).error ?? message;
    } catch {
      // not JSON: the text itself
    }
    error = `${res.status} ${res.statusText}${message ? `: ${message}` : ''}`;
  }
  return { reachable: true, status: res.status, account, error, rateLimit };
}
