import { performance } from 'node:perf_hooks';
import { compileGlobs, globTokens } from './metadata';

const REGEX_OF = {
  one: '[^/]',
  star: '[^/]*',
  any: '.*',
  dirs: '(?:.*/)?',
} as const;

/**
 * The glob's steps as a regular expression (how compileGlobs matched
 * before): the reference on short paths, where backtracking costs nothing.
 */
function referenceGlob(pattern: string): RegExp {
  const re = globTokens(pattern)
    .map(t =>
      t.kind === 'char'
        ? t.char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        : REGEX_OF[t.kind],
    )
    .join('');
  return new RegExp(`^${re}$`);
}

/** A small deterministic generator (no flaky seeds). */
function random(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

describe('compileGlobs', () => {
  it('matches as documented', () => {
    const wanted = compileGlobs(['*.safetensors', 'onnx/**', '/config.json']);
    expect(wanted('model.safetensors')).toBe(true);
    expect(wanted('a/b/model-00001-of-00002.safetensors')).toBe(true);
    expect(wanted('onnx/model.onnx')).toBe(true);
    expect(wanted('onnx/deep/er/model.onnx')).toBe(true);
    expect(wanted('config.json')).toBe(true);
    expect(wanted('sub/config.json')).toBe(false);
    expect(wanted('model.safetensors.bak')).toBe(false);
    const one = compileGlobs(['shard-?.bin', 'a/*/c']);
    expect(one('x/shard-1.bin')).toBe(true);
    expect(one('shard-12.bin')).toBe(false);
    expect(one('a/b/c')).toBe(true);
    expect(one('a/b/b/c')).toBe(false);
    expect(compileGlobs([])('anything')).toBe(false);
    expect(compileGlobs(['**'])('')).toBe(true);
  });

  it('agrees with the regular-expression semantics on 20,000 random cases', () => {
    const next = random(17);
    const pick = (parts: string[], max: number) =>
      Array.from(
        { length: next(max + 1) },
        () => parts[next(parts.length)],
      ).join('');
    const disagreements = [];
    let matches = 0;
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick(['a', 'b', '/', '*', '**', '?', '.', '**/'], 6);
      const path = pick(['a', 'b', '/', '.', 'ab'], 8);
      const match = compileGlobs([pattern])(path);
      matches += Number(match);
      if (match !== referenceGlob(pattern).test(path)) {
        disagreements.push({ pattern, path, match });
      }
    }
    expect(disagreements).toEqual([]);
    // both outcomes are well represented
    expect(matches).toBeGreaterThan(2_000);
    expect(matches).toBeLessThan(18_000);
  });

  it('takes linear time on long upstream names that several stars would backtrack on', () => {
    // each of these takes seconds to hours as a regular expression
    const cases: Array<[string, string]> = [
      ['*-*-*-*.bin', '-'.repeat(20_000)],
      ['*model*shard*of*', 'model'.repeat(4_000)],
      ['**a**b**c**d', 'a'.repeat(20_000)],
      ['**/*/*/*/*.bin', 'a/'.repeat(10_000)],
    ];
    const slow = [];
    for (const [pattern, path] of cases) {
      const start = performance.now();
      expect(compileGlobs([pattern])(path)).toBe(false);
      const ms = performance.now() - start;
      // (generous for a loaded machine: each takes a few ms)
      if (ms > 1000) {
        slow.push({ pattern, ms });
      }
    }
    expect(slow).toEqual([]);
  });
});
