/*
 * Seeds the demo through Model Hub's REST API, acting as the example users
 * (signed in through the development header sign-in), so that permissions,
 * checks, approvals, audit and notifications are the real ones. Every step
 * looks at what is there first: a second run (or a run after an interrupted
 * one) continues where the data stands and changes nothing that is done.
 */
import { LoggerService } from '@backstage/backend-plugin-api';
import { DEMO_HF_REPO, DEMO_VERSIONS, DemoVersion } from './plan';

/** The reviewer of the example org. */
const REVIEWER = 'bob';

export interface DemoSeedOptions {
  /** e.g. http://localhost:7007/api/auth */
  authBaseUrl: string;
  /** e.g. http://localhost:7007/api/model-hub */
  hubBaseUrl: string;
  /** e.g. http://localhost:7007/api/catalog */
  catalogBaseUrl: string;
  logger: LoggerService;
  /** How long to wait for the catalog to hold the org and the Models. */
  readyTimeoutMs?: number;
  /** The versions to seed (default DEMO_VERSIONS). */
  versions?: DemoVersion[];
  /** The Hub repo to register (default DEMO_HF_REPO; null for none). */
  hfRepo?: typeof DEMO_HF_REPO | null;
}

export interface DemoSeedResult {
  /** Steps taken (a step done before is not counted). */
  steps: string[];
  /** Versions that could not be brought to their target, and why. */
  problems: string[];
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Runs the seed; resolves when every version is at its target (or failed). */
export async function seedDemo(
  options: DemoSeedOptions,
): Promise<DemoSeedResult> {
  const { logger } = options;
  const tokens = new Map<string, string>();
  const steps: string[] = [];
  const problems: string[] = [];

  async function token(user: string): Promise<string> {
    const cached = tokens.get(user);
    if (cached) {
      return cached;
    }
    const res = await fetch(`${options.authBaseUrl}/dev-header/refresh`, {
      headers: { 'x-model-hub-dev-user': user },
    });
    if (!res.ok) {
      throw new HttpError(
        res.status,
        `sign-in as ${user}: ${res.status} ${await res.text()}`,
      );
    }
    const body = await res.json();
    tokens.set(user, body.backstageIdentity.token);
    return body.backstageIdentity.token;
  }

  async function call(
    user: string,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<any> {
    const raw = Buffer.isBuffer(body);
    let payload: Uint8Array | string | undefined;
    if (raw) {
      payload = new Uint8Array(body as Buffer);
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
    }
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${await token(user)}`,
        ...(body !== undefined && {
          'content-type': raw ? 'application/octet-stream' : 'application/json',
        }),
      },
      body: payload,
    });
    const text = await res.text();
    if (!res.ok) {
      throw new HttpError(
        res.status,
        `${method} ${url.slice(options.hubBaseUrl.length) || url} as ${user}: ${
          res.status
        } ${text.slice(0, 300)}`,
      );
    }
    return text ? JSON.parse(text) : undefined;
  }

  const hub = (path: string) => `${options.hubBaseUrl}${path}`;

  async function waitFor<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 300_000);
    for (;;) {
      try {
        return await fn();
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`Timed out waiting for ${what}: ${error}`);
        }
        // a failed sign-in is not cached; try again shortly
        await sleep(2000);
      }
    }
  }

  // the catalog ingests the example org and Models shortly after start
  const versions = options.versions ?? DEMO_VERSIONS;
  const users = new Set([REVIEWER, ...versions.map(v => v.author)]);
  for (const user of users) {
    await waitFor(`the example user ${user}`, () => token(user));
  }
  for (const model of new Set(versions.map(v => v.model))) {
    await waitFor(`the Model ${model} in the catalog`, () =>
      call(
        REVIEWER,
        'GET',
        `${options.catalogBaseUrl}/entities/by-name/model/default/${model}`,
      ),
    );
  }

  async function getVersion(v: DemoVersion) {
    try {
      return await call(
        REVIEWER,
        'GET',
        hub(`/models/default/${v.model}/versions/${v.label}`),
      );
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) {
        return undefined;
      }
      throw error;
    }
  }

  async function ensureFiles(v: DemoVersion) {
    const base = `/models/default/${v.model}/versions/${v.label}`;
    const listed = await call(v.author, 'GET', hub(`${base}/files`));
    const have = new Set<string>(
      (listed?.files ?? []).map((f: { path: string }) => f.path),
    );
    for (const file of v.files()) {
      if (!have.has(file.path)) {
        await call(
          v.author,
          'PUT',
          hub(
            `${base}/files/${file.path
              .split('/')
              .map(encodeURIComponent)
              .join('/')}`,
          ),
          file.content,
        );
        steps.push(`${v.model} ${v.label}: uploaded ${file.path}`);
      }
    }
  }

  async function transition(
    v: DemoVersion,
    user: string,
    action: string,
    comment?: string,
  ) {
    await call(
      user,
      'POST',
      hub(`/models/default/${v.model}/versions/${v.label}/transitions`),
      { action, ...(comment && { comment }) },
    );
    steps.push(`${v.model} ${v.label}: ${action} by ${user}`);
  }

  async function seedVersion(v: DemoVersion) {
    // at most one step per state; a version never loops
    for (let i = 0; i < 8; i++) {
      const version = await getVersion(v);
      if (!version) {
        await call(
          v.author,
          'POST',
          hub(`/models/default/${v.model}/versions`),
          {
            label: v.label,
            notes: v.notes,
            // files uploaded here, whatever the Model's usual source
            source: 'upload',
          },
        );
        steps.push(`${v.model} ${v.label}: created by ${v.author}`);
        await ensureFiles(v);
        continue;
      }
      const state: string = version.state;
      if (state === v.target) {
        if (state === 'draft') {
          await ensureFiles(v);
        }
        return;
      }
      switch (state) {
        case 'draft':
          await ensureFiles(v);
          await transition(v, v.author, 'submit');
          break;
        case 'in_review':
          if (v.target === 'changes_requested') {
            await transition(v, REVIEWER, 'request_changes', v.review);
          } else {
            if (v.review) {
              await call(
                REVIEWER,
                'POST',
                hub(`/models/default/${v.model}/versions/${v.label}/comments`),
                { body: v.review },
              );
            }
            await transition(v, REVIEWER, 'approve');
          }
          break;
        case 'approved':
          if (v.target === 'deprecated') {
            await transition(
              v,
              REVIEWER,
              'deprecate',
              'Superseded by a newer approved version.',
            );
            break;
          }
          if (v.target === 'active') {
            const { active } = await call(
              REVIEWER,
              'GET',
              hub(`/models/default/${v.model}/active`),
            );
            if (active?.label !== v.label) {
              await call(
                v.author,
                'POST',
                hub(`/models/default/${v.model}/active`),
                { label: v.label },
              );
              steps.push(`${v.model} ${v.label}: made active by ${v.author}`);
            }
          }
          return;
        default:
          // changes_requested, rejected, deprecated, archived: someone (or
          // an earlier run) took it elsewhere; leave it as it is
          return;
      }
    }
  }

  for (const v of versions) {
    try {
      await seedVersion(v);
    } catch (error) {
      problems.push(`${v.model} ${v.label}: ${(error as Error).message}`);
    }
  }

  const repo = options.hfRepo === undefined ? DEMO_HF_REPO : options.hfRepo;
  if (repo) {
    try {
      const [org, name] = repo.repoId.split('/');
      try {
        await call(
          repo.author,
          'GET',
          hub(`/huggingface/repos/${org}/${name}`),
        );
      } catch (error) {
        if (!(error instanceof HttpError && error.status === 404)) {
          throw error;
        }
        await call(repo.author, 'POST', hub('/huggingface/repos'), {
          repoId: repo.repoId,
          owner: repo.owner,
        });
        steps.push(`registered ${repo.repoId} by ${repo.author}`);
      }
    } catch (error) {
      problems.push(`${repo.repoId}: ${(error as Error).message}`);
    }
  }

  for (const problem of problems) {
    logger.warn(`Demo seed: ${problem}`);
  }
  return { steps, problems };
}
