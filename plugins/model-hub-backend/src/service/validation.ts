import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { InputError } from '@backstage/errors';
import {
  MODEL_FORMATS,
  MODEL_TYPES,
} from '@model-hub/backstage-plugin-model-hub-common';
import { z } from 'zod';
import { MODEL_SORT_FIELDS } from '../database/ModelHubStore';
import { FILE_KINDS, JOB_STATES, VERSION_STATES } from '../database/types';

/**
 * Parses a value with a schema, turning failures into an `InputError` (400)
 * whose message names every failing field.
 *
 * @internal
 */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    // no cause: the answer serializes it, and a ZodError names every
    // unknown key of a hostile body
    throw new InputError(`Invalid ${what}: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** The most issues, and characters of one, that a 400 names. */
const MAX_ISSUES = 10;
const MAX_ISSUE_CHARS = 300;

/**
 * The failing fields of a parse: `path: message; …` (`(root)` for the
 * value itself). Bounded, since it is answered and logged: the first 10
 * issues, each cut at 300 characters (an object of 20,000 unknown keys is
 * one issue naming them all).
 *
 * @internal
 */
export function describeIssues(error: z.ZodError): string {
  const cut = (text: string) =>
    text.length > MAX_ISSUE_CHARS
      ? `${text.slice(0, MAX_ISSUE_CHARS)}… (${text.length} characters)`
      : text;
  const described = error.issues
    .slice(0, MAX_ISSUES)
    .map(i =>
      cut(`${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  if (error.issues.length > MAX_ISSUES) {
    described.push(`and ${error.issues.length - MAX_ISSUES} more issues`);
  }
  return described.join('; ');
}

const NAME_PATTERN = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const TAG_PATTERN = /^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$/;
const HF_REPO_PATTERN = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;
const REVISION_PATTERN = /^[\w.\-/]{1,255}$/;

const entityName = z
  .string()
  .max(63)
  .regex(NAME_PATTERN, 'must be 1-63 letters, digits, -, _ or .');

/** An entity ref, normalised with the given default kind. @internal */
export const entityRef = (defaultKind: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .transform((value, ctx) => {
      try {
        return stringifyEntityRef(
          parseEntityRef(value, { defaultKind, defaultNamespace: 'default' }),
        ).toLocaleLowerCase('en-US');
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `invalid entity ref: ${e}` });
        return z.NEVER;
      }
    });

const sourceSchema = z.union([
  z.literal('upload'),
  z.object({
    huggingface: z.strictObject({
      repo: z.string().regex(HF_REPO_PATTERN, 'must be <org>/<name>'),
      revision: z.string().regex(REVISION_PATTERN).optional(),
    }),
  }),
]);

/** The body of POST /models. @internal */
export const createModelBody = z.strictObject({
  name: entityName,
  namespace: entityName.default('default'),
  title: z.string().min(1).max(255).optional(),
  description: z.string().max(10_000).optional(),
  type: z.enum(MODEL_TYPES),
  task: z.string().min(1).max(128).optional(),
  format: z.enum(MODEL_FORMATS).optional(),
  license: z.string().min(1).max(128).optional(),
  lifecycle: z.string().min(1).max(64).default('experimental'),
  owner: entityRef('group'),
  tags: z
    .array(z.string().max(63).regex(TAG_PATTERN, 'must be a lower-case tag'))
    .max(30)
    .default([]),
  source: sourceSchema.default('upload'),
});

/** The body of POST /models/:namespace/:name/versions. @internal */
export const createVersionBody = z.strictObject({
  label: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
      'must be 1-128 letters, digits, ., _, + or -, starting with a letter or digit',
    ),
  source: sourceSchema.optional(),
  resolvedCommit: z
    .string()
    .regex(/^[a-f0-9]{40}([a-f0-9]{24})?$/, 'must be a hex commit id')
    .optional(),
  manifestDigest: z
    .string()
    .regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex>')
    .optional(),
  notes: z.string().max(10_000).optional(),
});

/** The body of POST /models/:namespace/:name/sync. @internal */
export const syncBody = z.strictObject({
  revision: z.string().regex(REVISION_PATTERN).optional(),
});

/** Route params naming a model. @internal */
export const modelParams = z.object({
  namespace: entityName,
  name: entityName,
});

/** Route params naming a version. @internal */
export const versionParams = modelParams.extend({
  label: createVersionBody.shape.label,
});

/** A list query parameter, repeated or comma-separated. @internal */
export const listParam = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    v =>
      v === undefined
        ? undefined
        : (Array.isArray(v) ? v : [v])
            .flatMap(x => String(x).split(','))
            .map(x => x.trim())
            .filter(Boolean),
    z.array(item).max(50).optional(),
  );

const offsetParam = z.coerce.number().int().min(0).max(1_000_000).default(0);
const limitParam = z.coerce.number().int().min(1).max(100).default(20);

/** The query of GET /models. @internal */
export const listModelsQuery = z.strictObject({
  offset: offsetParam,
  limit: limitParam,
  type: listParam(z.enum(MODEL_TYPES)),
  state: listParam(z.enum(VERSION_STATES)),
  owner: listParam(entityRef('group')),
  source: listParam(z.enum(['upload', 'huggingface'])),
  tag: listParam(z.string().max(63)),
  namespace: listParam(entityName.transform(v => v.toLocaleLowerCase('en-US'))),
  q: z.string().max(200).optional(),
  sort: z.enum(MODEL_SORT_FIELDS).default('name'),
  order: z.enum(['asc', 'desc']).default('asc'),
});

/** The query of GET /jobs. @internal */
export const listJobsQuery = z.strictObject({
  offset: offsetParam,
  limit: limitParam,
  state: listParam(z.enum(JOB_STATES)),
  type: z.string().max(64).optional(),
  model: entityRef('model').optional(),
});

/** The query of GET /jobs/:id/logs. @internal */
export const jobLogsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

/** @internal */
export const jobParams = z.object({ id: z.uuid() });

/** The query of a file upload. @internal */
export const uploadQuery = z.strictObject({
  kind: z.enum(FILE_KINDS).optional(),
  sha256: z
    .string()
    .regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hex characters')
    .optional(),
});

/**
 * Validates the path of a file inside a version: relative, `/`-separated,
 * no `.`/`..` segments, no backslashes or control characters.
 *
 * @internal
 */
export function parseFilePath(raw: unknown): string {
  const path = typeof raw === 'string' ? raw : '';
  const problems: string[] = [];
  if (!path) {
    problems.push('is empty');
  }
  if (path.length > 1024) {
    problems.push('is longer than 1024 characters');
  }
  if (path.startsWith('/')) {
    problems.push('must be relative');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(path)) {
    problems.push('must not contain backslashes or control characters');
  }
  const segments = path.split('/');
  if (segments.some(s => s === '' || s === '.' || s === '..')) {
    problems.push('must not contain empty, . or .. segments');
  }
  if (segments.some(s => Buffer.byteLength(s) > 255)) {
    problems.push('has a segment longer than 255 bytes');
  }
  if (problems.length) {
    throw new InputError(`Invalid file path '${path}': ${problems.join(', ')}`);
  }
  return path.normalize('NFC');
}
