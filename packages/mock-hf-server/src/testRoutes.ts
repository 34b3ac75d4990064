import type { FileContentSpec } from './content';
import type { MockHub, RepoFileSpec, TokenSpec } from './hub';
import { makeSafetensors, SafetensorsDtype } from './safetensors';

/**
 * A file of a test-only commit, as JSON: UTF-8 `text`, `base64` bytes,
 * `generated` bytes (`{ size, seed }`) or a valid `safetensors` file made
 * of the given tensors (generated values).
 */
type TestFileSpec = {
  path: string;
  text?: string;
  base64?: string;
  generated?: { size: number; seed?: string | number };
  safetensors?: {
    tensors: Record<string, { dtype: SafetensorsDtype; shape: number[] }>;
    seed?: string | number;
  };
  lfs?: boolean;
};

type TestCommitBody = {
  /** Create the repo first when it does not exist (its initial commit). */
  create?: boolean;
  branch?: string;
  files?: TestFileSpec[];
  delete?: string[];
  title?: string;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
};

/** The answer of a test route. */
export type TestRouteResult = { status: number; data: unknown };

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const REPO_PART = /^[A-Za-z0-9][\w.-]{0,95}$/;

function fail(status: number, error: string): TestRouteResult {
  return { status, data: { error } };
}

function contentOf(
  f: TestFileSpec,
): { content: FileContentSpec } | { error: string } {
  const given = [f.text, f.base64, f.generated, f.safetensors].filter(
    v => v !== undefined,
  );
  if (given.length !== 1) {
    return {
      error: `file ${f.path}: give exactly one of text, base64, generated, safetensors`,
    };
  }
  if (f.text !== undefined) {
    return { content: String(f.text) };
  }
  if (f.base64 !== undefined) {
    return { content: new Uint8Array(Buffer.from(String(f.base64), 'base64')) };
  }
  if (f.generated) {
    const size = Number(f.generated.size);
    if (!Number.isInteger(size) || size < 0 || size > MAX_FILE_BYTES) {
      return {
        error: `file ${f.path}: generated.size must be an integer from 0 to ${MAX_FILE_BYTES}`,
      };
    }
    return { content: { size, seed: f.generated.seed } };
  }
  const bytes = makeSafetensors({
    tensors: f.safetensors!.tensors,
    seed: f.safetensors!.seed,
  });
  if (bytes.length > MAX_FILE_BYTES) {
    return {
      error: `file ${f.path}: the safetensors file is over ${MAX_FILE_BYTES} bytes`,
    };
  }
  return { content: new Uint8Array(bytes) };
}

/**
 * TEST ONLY: routes under `/_test/` that change the mock Hub while it
 * serves, for end-to-end tests (a new upstream commit). They answer only
 * when the server enables them (`CoreContext.testRoutes`) and only to a
 * token with access to every repo (`FIXTURE_TOKENS.admin`).
 *
 * - `POST /_test/repos/{org}/{name}/commits`: JSON {@link TestCommitBody};
 *   commits the files (and deletions) on the branch (default: the default
 *   branch), creating the repo with them when `create` is set. Answers 201
 *   `{ repoId, branch, commit, created }`.
 */
export function handleTestRoute(
  hub: MockHub,
  input: {
    method: string;
    segments: string[];
    token?: TokenSpec;
    body?: Uint8Array;
  },
): TestRouteResult {
  if (!input.token || input.token.access !== '*') {
    return fail(
      403,
      'The test routes of the mock Hub need a token with access to every repo',
    );
  }
  const [, repos, org, name, commits, ...rest] = input.segments;
  if (
    repos !== 'repos' ||
    commits !== 'commits' ||
    rest.length ||
    !org ||
    !name
  ) {
    return fail(404, 'No such test route');
  }
  if (input.method !== 'POST') {
    return fail(405, 'Use POST');
  }
  if (!REPO_PART.test(org) || !REPO_PART.test(name)) {
    return fail(400, 'The repo id must be <org>/<name>');
  }
  let body: TestCommitBody;
  try {
    body = JSON.parse(Buffer.from(input.body ?? []).toString('utf8') || '{}');
  } catch {
    return fail(400, 'The body must be JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail(400, 'The body must be a JSON object');
  }
  const files: RepoFileSpec[] = [];
  for (const f of body.files ?? []) {
    if (!f || typeof f.path !== 'string' || !f.path) {
      return fail(400, 'Every file needs a path');
    }
    let made: ReturnType<typeof contentOf>;
    try {
      made = contentOf(f);
    } catch (error) {
      return fail(400, `file ${f.path}: ${(error as Error).message}`);
    }
    if ('error' in made) {
      return fail(400, made.error);
    }
    files.push({
      path: f.path,
      content: made.content,
      ...(f.lfs !== undefined && { lfs: f.lfs }),
    });
  }
  const repoId = `${org}/${name}`;
  try {
    if (!hub.hasRepo(repoId)) {
      if (!body.create) {
        return fail(
          404,
          `Repository ${repoId} not found; set create: true to create it`,
        );
      }
      hub.addRepo({
        id: repoId,
        files,
        cardData: body.cardData,
        config: body.config,
        commitTitle: body.title,
      });
      return {
        status: 201,
        data: {
          repoId,
          branch: 'main',
          commit: hub.headSha(repoId),
          created: true,
        },
      };
    }
    if (
      !files.length &&
      !body.delete?.length &&
      !body.cardData &&
      !body.config
    ) {
      return fail(400, 'A commit needs files, deletions, cardData or config');
    }
    const commit = hub.commit(repoId, {
      branch: body.branch,
      files,
      delete: body.delete,
      title: body.title,
      cardData: body.cardData,
      config: body.config,
    });
    return {
      status: 201,
      data: {
        repoId,
        branch: body.branch ?? hub.getRepo(repoId).defaultBranch,
        commit,
        created: false,
      },
    };
  } catch (error) {
    return fail(400, (error as Error).message);
  }
}
