/** Query parameters whose values are credentials (matched by name). */
const SECRET_PARAMETER =
  /token|secret|key|sig|password|passwd|pwd|auth|credential|session|code/i;

/** What replaces a secret. */
export const REDACTED = '***';

/** How much of a URL a log keeps. @internal */
export type RedactOptions = {
  /**
   * Keep the path (default true). Off for targets whose path itself can be
   * the secret, such as webhook URLs (`https://hooks.example.com/T0/B0/xyz`):
   * then only the origin is kept.
   */
  keepPath?: boolean;
};

/**
 * A URL as it may be written to logs, job logs and version notes: without
 * user info (`user:password@`), with the values of credential-like query
 * parameters (`token`, `access_token`, `X-Amz-Signature`, `api_key`, ...)
 * replaced by `***`, without its fragment, and with only its origin when
 * `keepPath` is false. A string that is not a URL gives `<invalid URL>`.
 *
 * @internal
 */
export function redactUrl(url: string, options: RedactOptions = {}): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<invalid URL>';
  }
  const userInfo = parsed.username || parsed.password ? `${REDACTED}@` : '';
  const origin = `${parsed.protocol}//${userInfo}${parsed.host}`;
  if (options.keepPath === false) {
    return parsed.pathname === '/' && !parsed.search
      ? origin
      : `${origin}/${REDACTED}`;
  }
  const query = [...parsed.searchParams]
    .map(
      ([name, value]) =>
        `${encodeURIComponent(name)}=${
          SECRET_PARAMETER.test(name) ? REDACTED : encodeURIComponent(value)
        }`,
    )
    .join('&');
  return `${origin}${parsed.pathname}${query ? `?${query}` : ''}`;
}

/**
 * Every `http(s)://` URL in a text (an error message, a log line) redacted
 * with {@link redactUrl}; linear in the length of the text.
 *
 * @internal
 */
export function redactUrlsInText(
  text: string,
  options: RedactOptions = {},
): string {
  // a URL ends before whitespace, quotes or brackets, and never with
  // sentence punctuation
  return text.replace(/\bhttps?:\/\/[^\s"'<>`]*[^\s"'<>`.,;:!?)\]]/gi, url =>
    redactUrl(url, options),
  );
}
