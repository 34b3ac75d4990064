/*
 * The layering of the backend (issue 21), checked on the import specifiers
 * of the sources: plain `fs` reading, no compiler. Core folders import no
 * feature folder, the source files form no import cycle, and no source file
 * of a plugin grows over 500 lines.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = resolve(__dirname, '..');
const PLUGINS = resolve(SRC, '..', '..');
const REPO = resolve(PLUGINS, '..');

/** Folders (and root files) of the core: they import no feature. */
const CORE = [
  'config.ts',
  'database',
  'store',
  'service',
  'jobs',
  'inspection',
  'archive',
  'schema',
];
/**
 * Folders of the optional features: they may import the core and each
 * other (without cycles). A new top-level folder must be named in one of
 * the two lists.
 */
const FEATURES = [
  'approvals',
  'huggingface',
  'sources',
  'scan',
  'mirror',
  'uploads',
  'transfer',
  'lifecycle',
  'catalogSync',
  'audit',
  'storeCheck',
];
/** The composition root and the package entry: they may import anything. */
const ROOTS = ['plugin.ts', 'index.ts'];
/** Test code. */
const TEST_CODE = ['tests', 'setupTests.ts'];

const MAX_LINES = 500;
/**
 * TEMPORARY: files allowed over {@link MAX_LINES} lines while a change splits
 * them (printed on every run; a file on it that is back under the limit is
 * reported for removal). Empty since the splits of issue 21 landed.
 */
const TEMPORARILY_OVER_LIMIT: string[] = [];

/** Lines as `wc -l` counts them (a last line without newline counts too). */
function lineCount(text: string): number {
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') {
      continue;
    }
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path, out);
    } else if (/\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

/** Test code and fixtures: outside the layering and the size limit. */
function isTestCode(path: string): boolean {
  const parts = path.split(sep);
  const name = parts[parts.length - 1];
  return (
    /\.test\.tsx?$/.test(name) ||
    /^setupTests\.tsx?$/.test(name) ||
    parts.includes('__fixtures__') ||
    parts.includes('fixtures') ||
    parts.includes('__testUtils__') ||
    parts.includes('__mocks__') ||
    (parts.includes('src') && parts[parts.indexOf('src') + 1] === 'tests')
  );
}

type Import = { specifier: string; typeOnly: boolean; line: number };

/** The import specifiers of a file: static, re-exports, dynamic, `import()` types. */
function importsOf(source: string): Import[] {
  const found: Import[] = [];
  const lineAt = (index: number) => source.slice(0, index).split('\n').length;
  // comments would yield false imports (examples in JSDoc)
  const code = source.replace(
    /\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g,
    (m, pre = '') => pre + m.slice(pre.length).replace(/[^\n]/g, ' '),
  );
  const statement =
    /(?:^|\n|;)\s*(import|export)\s+(type\s+)?([^;'"`]*?)\s*from\s*['"]([^'"]+)['"]/g;
  for (let m = statement.exec(code); m; m = statement.exec(code)) {
    const clause = m[3];
    // `import { type A, type B }` is type-only as well
    const allTypes =
      /^\{[^}]*\}$/.test(clause.trim()) &&
      clause
        .replace(/[{}]/g, '')
        .split(',')
        .map(s => s.trim())
        .filter(Boolean)
        .every(s => s.startsWith('type '));
    found.push({
      specifier: m[4],
      typeOnly: Boolean(m[2]) || allTypes,
      line: lineAt(m.index + m[0].indexOf(m[1])),
    });
  }
  const bare = /(?:^|\n|;)\s*import\s*['"]([^'"]+)['"]/g;
  for (let m = bare.exec(code); m; m = bare.exec(code)) {
    found.push({ specifier: m[1], typeOnly: false, line: lineAt(m.index) });
  }
  // import('x'): a dynamic import, or an import type in a type position
  const dynamic = /(^|[^\w.])(typeof\s+)?import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m = dynamic.exec(code); m; m = dynamic.exec(code)) {
    const rest = code.slice(m.index + m[0].length);
    const before = code.slice(Math.max(0, m.index - 20), m.index + 1);
    const inType = /[:<|&,(]\s*$/.test(before) && /^\s*\./.test(rest);
    found.push({
      specifier: m[3],
      typeOnly: Boolean(m[2]) || inType,
      line: lineAt(m.index),
    });
  }
  const req = /(^|[^\w.])require\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m = req.exec(code); m; m = req.exec(code)) {
    found.push({ specifier: m[2], typeOnly: false, line: lineAt(m.index) });
  }
  return found;
}

/** The source file a relative specifier names, if any. */
function resolveRelative(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) {
    return undefined;
  }
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base,
    `${base}.ts`,
    `${base}.tsx`,
    join(base, 'index.ts'),
    join(base, 'index.tsx'),
  ];
  return candidates.find(c => existsSync(c) && statSync(c).isFile());
}

/** The layer of a file of the backend's `src/`. */
function layerOf(path: string): 'core' | 'feature' | 'root' | 'test' | string {
  const rel = relative(SRC, path).split(sep);
  const top = rel[0];
  if (isTestCode(path) || TEST_CODE.includes(top)) {
    return 'test';
  }
  if (CORE.includes(top)) {
    return 'core';
  }
  if (FEATURES.includes(top)) {
    return 'feature';
  }
  if (ROOTS.includes(top)) {
    return 'root';
  }
  return `unknown (${top})`;
}

const sources = walk(SRC).filter(f => !isTestCode(f));
const graph = new Map<
  string,
  { target: string; specifier: string; line: number; typeOnly: boolean }[]
>();
for (const file of sources) {
  const edges = importsOf(readFileSync(file, 'utf8'))
    .map(i => ({ ...i, target: resolveRelative(file, i.specifier) }))
    .filter(
      (e): e is Import & { target: string } =>
        e.target !== undefined && !isTestCode(e.target),
    );
  graph.set(file, edges);
}
const rel = (path: string) => relative(SRC, path);

/**
 * Strongly connected components of the import graph (Tarjan), of more than
 * one file or of a file importing itself.
 */
function cycles(nodes: string[], next: (node: string) => string[]): string[][] {
  let index = 0;
  const indexes = new Map<string, number>();
  const lowlinks = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  const connect = (v: string) => {
    indexes.set(v, index);
    lowlinks.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!indexes.has(w)) {
        connect(w);
        lowlinks.set(v, Math.min(lowlinks.get(v)!, lowlinks.get(w)!));
      } else if (onStack.has(w)) {
        lowlinks.set(v, Math.min(lowlinks.get(v)!, indexes.get(w)!));
      }
    }
    if (lowlinks.get(v) === indexes.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next(v).includes(v)) {
        result.push(component.sort());
      }
    }
  };
  for (const node of nodes) {
    if (!indexes.has(node)) {
      connect(node);
    }
  }
  return result;
}

describe('architecture of the backend', () => {
  it('reads the sources', () => {
    expect(sources.length).toBeGreaterThan(50);
    // the parser finds the imports this very file could not live without
    expect(
      importsOf(
        "import type { A } from './a';\nimport { type B } from \"./b\";\nexport * from './c';\nconst d = await import('./d');\nlet e: import('./e').E;\n// import x from './comment';\n",
      ),
    ).toEqual([
      { specifier: './a', typeOnly: true, line: 1 },
      { specifier: './b', typeOnly: true, line: 2 },
      { specifier: './c', typeOnly: false, line: 3 },
      { specifier: './d', typeOnly: false, line: 4 },
      { specifier: './e', typeOnly: true, line: 5 },
    ]);
  });

  it('names every top-level folder of src/ as core or feature', () => {
    const unknown = sources
      .map(f => ({ file: rel(f), layer: layerOf(f) }))
      .filter(f => f.layer.startsWith('unknown'));
    expect(unknown).toEqual([]);
  });

  it('has no import from a core folder into a feature folder or the root', () => {
    // type-only imports count too: a core type that names a feature's type
    // still ties the core to the feature
    const violations: string[] = [];
    for (const [file, edges] of graph) {
      if (layerOf(file) !== 'core') {
        continue;
      }
      for (const edge of edges) {
        const target = layerOf(edge.target);
        if (target !== 'core') {
          violations.push(
            `${rel(file)}:${edge.line} imports '${edge.specifier}' (${rel(
              edge.target,
            )}, ${target})`,
          );
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import cycle among the source files', () => {
    // type-only imports count too: they order no module evaluation, but a
    // cycle through them still ties two files (and often two folders) into
    // one unit that cannot be understood, tested or moved apart
    const next = (file: string) => (graph.get(file) ?? []).map(e => e.target);
    const found = cycles([...graph.keys()], next).map(component => {
      const members = new Set(component);
      const edges = component.flatMap(file =>
        (graph.get(file) ?? [])
          .filter(e => members.has(e.target))
          .map(
            e =>
              `  ${rel(file)}:${e.line} imports '${e.specifier}'${
                e.typeOnly ? ' (type only)' : ''
              }`,
          ),
      );
      return `cycle of ${component.length} files:\n${edges.join('\n')}`;
    });
    expect(found).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines in plugins/*/src`, () => {
    const files = readdirSync(PLUGINS)
      .map(p => join(PLUGINS, p, 'src'))
      .filter(p => existsSync(p))
      .flatMap(p => walk(p))
      .filter(f => !isTestCode(f));
    const over = files
      .map(f => ({
        file: relative(REPO, f).split(sep).join('/'),
        lines: lineCount(readFileSync(f, 'utf8')),
      }))
      .filter(f => f.lines > MAX_LINES);
    const tolerated = over.filter(f => TEMPORARILY_OVER_LIMIT.includes(f.file));
    if (tolerated.length) {
      // eslint-disable-next-line no-console
      console.warn(
        `TEMPORARY: ${
          tolerated.length
        } files over ${MAX_LINES} lines, tolerated while they are split:\n${tolerated
          .map(f => `  ${f.file} (${f.lines} lines)`)
          .join('\n')}`,
      );
    }
    expect(
      over
        .filter(f => !TEMPORARILY_OVER_LIMIT.includes(f.file))
        .map(f => `${f.file} has ${f.lines} lines (limit ${MAX_LINES})`),
    ).toEqual([]);
    // the list only shrinks: a split file leaves it
    const done = TEMPORARILY_OVER_LIMIT.filter(
      f => !over.some(o => o.file === f),
    );
    if (done.length) {
      // eslint-disable-next-line no-console
      console.warn(
        `No longer over ${MAX_LINES} lines, remove from TEMPORARILY_OVER_LIMIT: ${done.join(
          ', ',
        )}`,
      );
    }
  });
});
