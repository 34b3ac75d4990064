import { createHash } from 'node:crypto';

/**
 * The content digest of a version: `sha256:<hex>` over its files sorted
 * by path (code unit order), one JSON line `[path, sha256, size]` each. Two
 * versions with the same paths, contents and sizes have the same digest;
 * any added, removed or changed file changes it. The migration that added
 * the digest computes the same value.
 *
 * @internal
 */
export function contentDigest(
  files: Iterable<{ path: string; sha256: string; size: number }>,
): string {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => {
    if (a.path === b.path) {
      return 0;
    }
    return a.path < b.path ? -1 : 1;
  });
  for (const f of sorted) {
    hash.update(`${JSON.stringify([f.path, f.sha256, Number(f.size)])}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The content digest of a version without files. @internal */
export const EMPTY_CONTENT_DIGEST = contentDigest([]);
