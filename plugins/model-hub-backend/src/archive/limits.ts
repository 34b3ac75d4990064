/**
 * Limits and policies of ZIP package imports.
 *
 * @internal
 */
export type ArchiveOptions = {
  /** Largest archive (compressed) accepted, bytes. */
  maxArchiveBytes: number;
  /** Most entries (files and folders) in the central directory. */
  maxEntries: number;
  /** Largest uncompressed file, bytes. */
  maxEntryBytes: number;
  /** Largest sum of uncompressed sizes, bytes (declared and actual). */
  maxTotalBytes: number;
  /** Highest uncompressed/compressed ratio of an entry larger than `ratioThresholdBytes`. */
  maxCompressionRatio: number;
  /** Entries smaller than this are exempt from the ratio check. */
  ratioThresholdBytes: number;
  /** Largest extra field of a header, bytes. */
  maxExtraFieldBytes: number;
  /** Largest comment (archive or entry), bytes. */
  maxCommentBytes: number;
  /**
   * Archives inside the archive (`.zip`, `.tar`, `.gz`, ...): `reject`
   * (default) or `store` them as opaque files; stored nested zips still have
   * their own central directory checked against the size and ratio limits.
   */
  nestedArchives: 'reject' | 'store';
  /**
   * Files a package of a model type must contain: per model type, a list of
   * patterns (`*` within a path segment, `**` across segments, `|` for
   * alternatives), e.g. `llm: ['config.json', '*.safetensors|*.gguf']`.
   */
  requiredFiles: Record<string, string[]>;
};

/** @internal */
export const DEFAULT_ARCHIVE_OPTIONS: ArchiveOptions = {
  maxArchiveBytes: 100 * 1024 ** 3,
  maxEntries: 10_000,
  maxEntryBytes: 100 * 1024 ** 3,
  maxTotalBytes: 200 * 1024 ** 3,
  maxCompressionRatio: 100,
  ratioThresholdBytes: 1024 * 1024,
  maxExtraFieldBytes: 4096,
  maxCommentBytes: 4096,
  nestedArchives: 'reject',
  requiredFiles: {},
};

/** Extensions of archive formats, for the nested archive policy. @internal */
export const ARCHIVE_EXTENSIONS =
  /\.(zip|jar|tar|tgz|gz|bz2|xz|zst|7z|rar|lz4|lzma|tbz2|txz)$/i;

/** Compiles a required-file pattern into a regular expression. @internal */
export function requiredFilePattern(pattern: string): RegExp {
  const alternatives = pattern.split('|').map(p =>
    p
      .trim()
      .split(/(\*\*|\*)/)
      .map(part => {
        if (part === '**') {
          return '.*';
        }
        if (part === '*') {
          return '[^/]*';
        }
        return part.replace(/[.+?^${}()[\]\\]/g, '\\$&');
      })
      .join(''),
  );
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}
