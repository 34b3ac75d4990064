import { parse as parseYaml } from 'yaml';
import type {
  ModelFormat,
  ModelType,
} from '@model-hub/backstage-plugin-model-hub-common';
import { trimEndWhere, trimWhere } from '../service/linearText';

/** What a model card's front matter says about a model. @internal */
export type CardMetadata = {
  license?: string;
  baseModels: string[];
  datasets: string[];
  pipelineTag?: string;
  libraryName?: string;
  tags: string[];
  /** The whole front matter. */
  data: Record<string, unknown>;
};

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  return Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : [];
}

/** The longest front matter of a model card that is parsed. @internal */
export const MAX_FRONT_MATTER_CHARS = 32 * 1024;
const MAX_FRONT_MATTER_DEPTH = 32;

/** The deepest nesting of `[` and `{` in a text (quotes not considered). */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      depth++;
      max = Math.max(max, depth);
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return max;
}

/**
 * Parses the YAML front matter of a model card (README.md): license,
 * base_model, datasets, pipeline_tag, library_name and tags. A card without
 * front matter, or with invalid YAML, gives empty metadata.
 *
 * @internal
 */
export function parseModelCard(text: string | undefined): CardMetadata {
  const empty: CardMetadata = {
    baseModels: [],
    datasets: [],
    tags: [],
    data: {},
  };
  if (!text) {
    return empty;
  }
  // the front matter is bounded before YAML parses it: the parser's time
  // grows fast with size and nesting (deep flow collections exhaust it)
  const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)/.exec(
    text.slice(0, MAX_FRONT_MATTER_CHARS + 16),
  );
  if (!m || flowDepth(m[1]) > MAX_FRONT_MATTER_DEPTH) {
    return empty;
  }
  let data: unknown;
  try {
    data = parseYaml(m[1], { uniqueKeys: false, maxAliasCount: 100 });
  } catch {
    return empty;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return empty;
  }
  const d = data as Record<string, unknown>;
  const license = asStrings(d.license)[0];
  return {
    license:
      license === 'other' && typeof d.license_name === 'string'
        ? d.license_name
        : license,
    baseModels: asStrings(d.base_model),
    datasets: asStrings(d.datasets),
    pipelineTag: asStrings(d.pipeline_tag)[0],
    libraryName: asStrings(d.library_name)[0],
    tags: asStrings(d.tags),
    data: d,
  };
}

const TYPE_BY_TASK: Array<[RegExp, ModelType]> = [
  [
    /^(text-generation|text2text-generation|conversational|summarization|translation|question-answering|fill-mask|image-text-to-text)$/,
    'llm',
  ],
  [/^(feature-extraction|sentence-similarity)$/, 'embedding'],
  [
    /^(text-to-image|image-to-image|unconditional-image-generation|text-to-video)$/,
    'diffusion',
  ],
  [
    /^(image-|object-detection|depth-estimation|video-|zero-shot-image|mask-generation)/,
    'vision',
  ],
  [
    /^(automatic-speech-recognition|audio-|text-to-speech|text-to-audio|voice-activity)/,
    'audio',
  ],
  [/^tabular-/, 'tabular'],
  [
    /^(text-classification|token-classification|zero-shot-classification)$/,
    'llm',
  ],
];

/** The Model type of a Hub pipeline tag. @internal */
export function modelTypeOf(
  pipelineTag: string | undefined,
  options: { hasModelIndex?: boolean } = {},
): ModelType {
  if (options.hasModelIndex) {
    return 'diffusion';
  }
  for (const [pattern, type] of TYPE_BY_TASK) {
    if (pipelineTag && pattern.test(pipelineTag)) {
      return type;
    }
  }
  return 'other';
}

/** The weight format of a repo, from its file names. @internal */
export function modelFormatOf(paths: string[]): ModelFormat | undefined {
  const has = (re: RegExp) => paths.some(p => re.test(p));
  if (has(/\.safetensors$/)) return 'safetensors';
  if (has(/\.gguf$/)) return 'gguf';
  if (has(/\.onnx$/)) return 'onnx';
  if (has(/\.(bin|pt|pth)$/)) return 'pytorch';
  if (has(/\.joblib$/)) return 'joblib';
  return undefined;
}

const TAG_PATTERN = /^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$/;

/**
 * Filters tags to the catalog's tag format (lower-case `[a-z0-9:+#]` words
 * joined by `-`, at most 63 characters): tags are lower-cased, `_`, `.`,
 * `/` and spaces become `-`; what still does not fit is dropped. At most 30.
 *
 * @internal
 */
export function toCatalogTags(tags: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const tag of tags) {
    const t = tag
      .toLocaleLowerCase('en-US')
      .replace(/[_./\s]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '');
    if (t.length > 0 && t.length <= 63 && TAG_PATTERN.test(t)) {
      out.add(t);
    }
    if (out.size >= 30) {
      break;
    }
  }
  return [...out];
}

const isAlphanumeric = (c: string) =>
  (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

/**
 * A valid entity name for a Hub repo id: `org/name` becomes `org--name`
 * lower-cased... only `[a-z0-9-_.]`, starting and ending alphanumeric, at
 * most 63 characters (a long id keeps a hash suffix to stay unique).
 *
 * @internal
 */
export function toEntityName(repoId: string): string {
  let name = repoId
    .toLocaleLowerCase('en-US')
    .replace(/\//g, '--')
    .replace(/[^a-z0-9\-_.]+/g, '-');
  // trimmed in linear time: the id comes from upstream
  name = trimWhere(name, c => !isAlphanumeric(c));
  if (name.length > 63) {
    let h = 0;
    for (let i = 0; i < repoId.length; i++) {
      h = (Math.imul(h, 31) + repoId.charCodeAt(i)) >>> 0;
    }
    const suffix = h.toString(36).padStart(7, '0').slice(0, 7);
    name = `${trimEndWhere(
      name.slice(0, 55),
      c => !isAlphanumeric(c),
    )}-${suffix}`;
  }
  return name || 'model';
}

/** A step of a compiled glob. @internal */
export type GlobToken =
  | { kind: 'char'; char: string }
  /** `?`: one character of a path segment */
  | { kind: 'one' }
  /** `*`: any characters within a path segment */
  | { kind: 'star' }
  /** `**` (not before `/`): any characters */
  | { kind: 'any' }
  /** `**\/`: nothing, or any characters up to and including a `/` */
  | { kind: 'dirs' };

/**
 * The steps of a glob (see {@link compileGlobs}); a pattern without `/`
 * gets a leading `**\/`.
 *
 * @internal
 */
export function globTokens(pattern: string): GlobToken[] {
  const anchored = pattern.includes('/')
    ? pattern.replace(/^\//, '')
    : `**/${pattern}`;
  const tokens: GlobToken[] = [];
  for (let i = 0; i < anchored.length; i++) {
    const c = anchored[i];
    if (c === '*' && anchored[i + 1] === '*') {
      i++;
      if (anchored[i + 1] === '/') {
        i++;
        tokens.push({ kind: 'dirs' });
      } else {
        tokens.push({ kind: 'any' });
      }
    } else if (c === '*') {
      tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'char', char: c });
    }
  }
  return tokens;
}

/**
 * Whether `path` matches the glob's tokens, in time linear in the path's
 * length times the pattern's (a set of states walked once over the path,
 * no backtracking): upstream file names are untrusted, and a regular
 * expression of several stars backtracks polynomially on a long one.
 * State `i` is "before token i", `n` the match, `n + 1 + i` "inside
 * the `dirs` token i".
 */
function matchTokens(tokens: GlobToken[], path: string): boolean {
  const n = tokens.length;
  let current = new Uint8Array(2 * n + 1);
  let next = new Uint8Array(2 * n + 1);
  const add = (set: Uint8Array, state: number) => {
    // the states reachable without a character
    let s = state;
    while (s < n && !set[s]) {
      set[s] = 1;
      const token = tokens[s];
      if (token.kind === 'dirs') {
        set[n + 1 + s] = 1;
      } else if (token.kind !== 'star' && token.kind !== 'any') {
        return;
      }
      s += 1;
    }
    if (s === n) {
      set[n] = 1;
    }
  };
  add(current, 0);
  for (let p = 0; p < path.length; p++) {
    const c = path[p];
    next.fill(0);
    let alive = false;
    for (let s = 0; s < n; s++) {
      if (current[s]) {
        const token = tokens[s];
        if (token.kind === 'char' ? token.char === c : token.kind === 'one') {
          if (token.kind === 'char' || c !== '/') {
            add(next, s + 1);
            alive = true;
          }
        } else if (
          token.kind === 'any' ||
          (token.kind === 'star' && c !== '/')
        ) {
          next[s] = 1;
          add(next, s + 1);
          alive = true;
        }
      }
      if (current[n + 1 + s]) {
        next[n + 1 + s] = 1;
        alive = true;
        if (c === '/') {
          add(next, s + 1);
        }
      }
    }
    if (!alive) {
      return false;
    }
    [current, next] = [next, current];
  }
  return current[n] === 1;
}

/**
 * Compiles file globs: `*` matches within a path segment, `**` across
 * segments, `?` one character; a pattern without `/` matches the file name
 * anywhere. Matching takes time linear in the path's length (see
 * {@link matchTokens}).
 *
 * @internal
 */
export function compileGlobs(patterns: string[]): (path: string) => boolean {
  const compiled = patterns.map(globTokens);
  return path => compiled.some(tokens => matchTokens(tokens, path));
}
