// The workload's HTTP client: one new connection per request (node:http with
// `agent: false`, which sends `Connection: close`), so that the round-robin
// proxy spreads requests over the instances. Network errors and 502/503 are
// counted by kind; idempotent calls are retried.
import http from 'node:http';

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** One request; resolves {status, headers, body (Buffer)} or throws. */
export function request(
  url,
  { method = 'GET', headers = {}, body, timeoutMs = 120_000 } = {},
) {
  return new Promise((resolve, reject) => {
    const data =
      body === undefined || Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { ...headers };
    if (data) h['content-length'] = String(data.length);
    if (data && !h['content-type']) {
      h['content-type'] = Buffer.isBuffer(body)
        ? 'application/octet-stream'
        : 'application/json';
    }
    const req = http.request(url, { method, headers: h, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
      res.on('aborted', () =>
        reject(
          Object.assign(new Error('response aborted'), { code: 'ABORTED' }),
        ),
      );
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })),
    );
    req.on('error', reject);
    req.end(data);
  });
}

export class Api {
  constructor(baseUrl, stats) {
    this.baseUrl = baseUrl;
    this.stats = stats;
    this.tokens = {};
  }

  countError(kind) {
    this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
  }

  /** A Backstage token of an example user, through the dev-header sign-in. */
  async token(user, { refresh = false } = {}) {
    if (this.tokens[user] && !refresh) return this.tokens[user];
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await request(
          `${this.baseUrl}/api/auth/dev-header/refresh`,
          {
            headers: { 'x-model-hub-dev-user': user },
          },
        );
        if (res.status === 200) {
          this.tokens[user] = JSON.parse(res.body).backstageIdentity.token;
          return this.tokens[user];
        }
        if (attempt > 120)
          throw new Error(`sign-in as ${user}: ${res.status} ${res.body}`);
      } catch (e) {
        if (attempt > 120) throw e;
      }
      await sleep(1000);
    }
  }

  /**
   * A call as `user` to /api/model-hub<path>. With `retry`, network errors
   * and 502/503/504 are retried (the caller says the call is idempotent, or
   * handles the answer of a retry, e.g. a 409 after a create that applied).
   * Returns {status, json, text, attempts, networkErrors}.
   */
  async call(
    user,
    method,
    path,
    body,
    { retry = true, raw = false, headers = {}, timeoutMs } = {},
  ) {
    let networkErrors = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(`${this.baseUrl}/api/model-hub${path}`, {
          method,
          body,
          timeoutMs,
          headers: {
            authorization: `Bearer ${await this.token(user)}`,
            ...headers,
          },
        });
        if ([502, 503, 504].includes(res.status) && retry && attempt < 30) {
          this.countError(`http ${res.status}`);
          this.stats.retries += 1;
          await sleep(500 * Math.min(attempt, 6));
          continue;
        }
        const text = raw ? '' : res.body.toString('utf8');
        let json;
        try {
          json = raw ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        return {
          status: res.status,
          json,
          text,
          body: res.body,
          headers: res.headers,
          attempts: attempt,
          networkErrors,
        };
      } catch (e) {
        networkErrors += 1;
        this.countError(`network ${e.code ?? e.message}`);
        if (!retry || attempt >= 30) {
          return {
            status: 0,
            error: e.code ?? e.message,
            attempts: attempt,
            networkErrors,
          };
        }
        this.stats.retries += 1;
        await sleep(300 * Math.min(attempt, 6));
      }
    }
  }

  /** Like call, but throws unless the status is one of `ok`. */
  async must(user, method, path, body, ok = [200, 201, 202, 204], options) {
    const res = await this.call(user, method, path, body, options);
    if (!ok.includes(res.status)) {
      throw new Error(
        `${user} ${method} ${path}: ${res.status} ${
          res.error ?? res.text?.slice(0, 300)
        }`,
      );
    }
    return res;
  }
}
