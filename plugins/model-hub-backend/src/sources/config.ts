import { resolve } from 'node:path';
import {
  readSchedulerServiceTaskScheduleDefinitionFromConfig,
  SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { Config, readDurationFromConfig } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { DEFAULT_HF_ENDPOINT, readHuggingFaceConfig } from '../huggingface/config';

/** The kinds of model sources; more may come. @public */
export type SourceKind = 'huggingface' | 'local';

/** The kinds of model sources, as a list. @internal */
export const SOURCE_KINDS: readonly SourceKind[] = ['huggingface', 'local'];

/**
 * A model source: where models come from, with the reference of its
 * credentials (never the token itself outside memory).
 *
 * @internal
 */
export type SourceDefinition = {
  name: string;
  kind: SourceKind;
  /** huggingface: the Hub (or mirror) URL, no trailing slash. */
  endpoint?: string;
  /** local: the folder the scan walks. */
  root?: string;
  /**
   * Where the token comes from: `env:NAME`, `config:modelHub.sourceSecrets.KEY`,
   * or `config:modelHub.sources.NAME.token` / `config:modelHub.huggingface.token`
   * for a token written in the config. Undefined: anonymous.
   */
  tokenRef?: string;
  include: string[];
  exclude: string[];
  /** Lower case; empty: every organization. */
  allowedOrganizations: string[];
  /** The namespace of the models created from it. */
  namespace: string;
  schedule: SchedulerServiceTaskScheduleDefinition;
  /** config: from app-config (read only at run time); runtime: added by an admin. */
  origin: 'config' | 'runtime';
  createdBy?: string;
  createdAt?: string;
};

/** Settings of the status checks (`modelHub.sourceStatus`). @internal */
export type SourceStatusConfig = {
  frequency: SchedulerServiceTaskScheduleDefinition['frequency'];
  /** Entity refs notified when a source starts failing. */
  notify: string[];
};

/** The name of the source of the single `modelHub.huggingface` block. @internal */
export const DEFAULT_SOURCE_NAME = 'huggingface';

const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Environment variables a token may come from. @internal */
export const TOKEN_ENV_PATTERN = /^(HF_|MODEL_HUB_)[A-Z0-9_]{1,120}$/;
const SECRET_KEY_PATTERN = /^[A-Za-z0-9_-]{1,120}$/;

/** Throws an `InputError` for a name that cannot name a source. @internal */
export function assertSourceName(name: string) {
  if (!NAME_PATTERN.test(name)) {
    throw new InputError(
      `A source name is lower-case letters, digits and dashes (at most 63), got '${name}'`,
    );
  }
}

/**
 * Checks a token reference: `env:NAME` (NAME starting with HF_ or
 * MODEL_HUB_) or `config:modelHub.sourceSecrets.KEY`. Other config paths and
 * variables are refused, so that a source cannot read the database password
 * or another secret of the backend and send it to its endpoint.
 *
 * @internal
 */
export function assertTokenRef(ref: string) {
  const [kind, ...rest] = ref.split(':');
  const value = rest.join(':');
  if (kind === 'env' && TOKEN_ENV_PATTERN.test(value)) {
    return;
  }
  if (kind === 'config') {
    const m = /^modelHub\.sourceSecrets\.(.+)$/.exec(value);
    if (m && SECRET_KEY_PATTERN.test(m[1])) {
      return;
    }
  }
  throw new InputError(
    `tokenRef must be env:<HF_... or MODEL_HUB_... variable> or config:modelHub.sourceSecrets.<key>, got '${ref}'`,
  );
}

/** Normalises an endpoint URL; throws an `InputError` unless it is http(s). @internal */
export function normalizeEndpoint(endpoint: string, where: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new InputError(`${where} must be an http(s) URL, got '${endpoint}'`);
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) {
    throw new InputError(
      `${where} must be an http(s) URL without credentials, got '${endpoint}'`,
    );
  }
  return trimmed;
}

const DEFAULT_SCHEDULE: SchedulerServiceTaskScheduleDefinition = {
  frequency: { hours: 1 },
  timeout: { minutes: 30 },
  initialDelay: { minutes: 1 },
};

/**
 * Reads the sources of the config: `modelHub.sources` (a list), and the
 * single `modelHub.huggingface` block as the source `huggingface`, first, as
 * it always was: without `modelHub.sources` it is the only Hub source (with
 * its defaults when the block is absent); with them, it is a source when it
 * sets an `endpoint` or a `token`. `modelHub.scan.root` is the local
 * source `local` unless a local source is configured.
 *
 * @internal
 */
export function readSourcesConfig(
  config: Config,
  options: { cwd?: string } = {},
): SourceDefinition[] {
  const cwd = options.cwd ?? process.cwd();
  const hf = readHuggingFaceConfig(config, { cwd });
  const listed = config.getOptionalConfigArray('modelHub.sources') ?? [];
  const sources: SourceDefinition[] = [];
  // with modelHub.sources, the block still holds the shared settings (fetch,
  // downloadDir, ...); it is a source of its own when it names an upstream
  const block = config.getOptionalConfig('modelHub.huggingface');
  if (!listed.length || block?.has('endpoint') || block?.has('token')) {
    sources.push({
      name: DEFAULT_SOURCE_NAME,
      kind: 'huggingface',
      endpoint: hf.endpoint,
      tokenRef: hf.token ? 'config:modelHub.huggingface.token' : undefined,
      include: hf.include,
      exclude: hf.exclude,
      allowedOrganizations: hf.allowedOrganizations,
      namespace: hf.namespace,
      schedule: hf.schedule,
      origin: 'config',
    });
  }
  listed.forEach((c, i) => {
    const where = `modelHub.sources[${i}]`;
    const name = c.getString('name');
    if (!NAME_PATTERN.test(name)) {
      throw new Error(
        `${where}.name must be lower-case letters, digits and dashes, got '${name}'`,
      );
    }
    if (sources.some(s => s.name === name)) {
      throw new Error(`${where}.name '${name}' is used twice`);
    }
    const kind = (c.getOptionalString('kind') ?? 'huggingface') as SourceKind;
    if (!SOURCE_KINDS.includes(kind)) {
      throw new Error(
        `${where}.kind must be one of ${SOURCE_KINDS.join(', ')}, got '${kind}'`,
      );
    }
    let tokenRef: string | undefined;
    if (c.getOptionalString('token')) {
      tokenRef = `config:modelHub.sources.${name}.token`;
    } else if (c.has('tokenEnv')) {
      tokenRef = `env:${c.getString('tokenEnv')}`;
    } else if (c.has('tokenRef')) {
      tokenRef = c.getString('tokenRef');
    }
    if (tokenRef?.startsWith('env:') || tokenRef?.startsWith('config:modelHub.sourceSecrets')) {
      try {
        assertTokenRef(tokenRef);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
    const root = c.getOptionalString('root');
    if (kind === 'local' && !root) {
      throw new Error(`${where}.root is required for a local source`);
    }
    sources.push({
      name,
      kind,
      endpoint:
        kind === 'huggingface'
          ? normalizeEndpoint(
              c.getOptionalString('endpoint') ?? DEFAULT_HF_ENDPOINT,
              `${where}.endpoint`,
            )
          : undefined,
      root: root ? resolve(cwd, root) : undefined,
      tokenRef,
      include: c.getOptionalStringArray('include') ?? [],
      exclude: c.getOptionalStringArray('exclude') ?? [],
      allowedOrganizations: (
        c.getOptionalStringArray('allowedOrganizations') ?? []
      ).map(o => o.toLocaleLowerCase('en-US')),
      namespace: c.getOptionalString('namespace') ?? (sources.length ? name : 'default'),
      schedule: c.has('schedule')
        ? readSchedulerServiceTaskScheduleDefinitionFromConfig(
            c.getConfig('schedule'),
          )
        : DEFAULT_SCHEDULE,
      origin: 'config',
    });
  });
  if (hf.scanRoot && !sources.some(s => s.kind === 'local')) {
    sources.push({
      name: sources.some(s => s.name === 'local') ? 'local-scan' : 'local',
      kind: 'local',
      root: hf.scanRoot,
      include: [],
      exclude: [],
      allowedOrganizations: [],
      namespace: hf.namespace,
      schedule: DEFAULT_SCHEDULE,
      origin: 'config',
    });
  }
  return sources;
}

/**
 * The token a config source writes in the config itself (the values of its
 * `config:` references that are not `modelHub.sourceSecrets`).
 *
 * @internal
 */
export function readConfigTokens(config: Config): Map<string, string> {
  const tokens = new Map<string, string>();
  const hfToken = config.getOptionalString('modelHub.huggingface.token');
  if (hfToken) {
    tokens.set('config:modelHub.huggingface.token', hfToken);
  }
  for (const c of config.getOptionalConfigArray('modelHub.sources') ?? []) {
    const token = c.getOptionalString('token');
    if (token) {
      tokens.set(`config:modelHub.sources.${c.getString('name')}.token`, token);
    }
  }
  return tokens;
}

/**
 * Resolves a token reference to the token, or undefined when the variable
 * or secret is not set.
 *
 * @internal
 */
export function resolveToken(
  config: Config,
  ref: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (!ref) {
    return undefined;
  }
  if (ref.startsWith('env:')) {
    return env[ref.slice(4)] || undefined;
  }
  if (ref.startsWith('config:modelHub.sourceSecrets.')) {
    return config.getOptionalString(ref.slice(7)) || undefined;
  }
  return readConfigTokens(config).get(ref);
}

/** Reads `modelHub.sourceStatus`. @internal */
export function readSourceStatusConfig(config: Config): SourceStatusConfig {
  const c = config.getOptionalConfig('modelHub.sourceStatus');
  const frequency = c?.has('frequency')
    ? readDurationFromConfig(c, { key: 'frequency' })
    : { minutes: 5 };
  return {
    frequency,
    notify: c?.getOptionalStringArray('notify') ?? ['group:default/ml-admins'],
  };
}
