import { HubFile, HubVersion } from '../database/types';

/** A change of a scalar between two versions. @internal */
export type ValueChange<T> = { from?: T; to?: T; changed: boolean };

/** The difference of a version from a base version. @internal */
export type VersionDiff = {
  /** The version compared against; absent when there is none. */
  base?: { label: string; state: string };
  files: {
    added: { path: string; size: number; sha256: string }[];
    removed: { path: string; size: number; sha256: string }[];
    changed: {
      path: string;
      from: { size: number; sha256: string };
      to: { size: number; sha256: string };
    }[];
    unchanged: number;
  };
  totalSize: ValueChange<number>;
  parameters: ValueChange<number>;
  license: ValueChange<string>;
};

/**
 * A file as the diff compares it: by `identity` when both sides give one
 * (the upstream identity of Hugging Face files: LFS sha256 or git blob id,
 * known before the bytes are downloaded), else by SHA-256.
 *
 * @internal
 */
export type DiffFile = Pick<HubFile, 'path' | 'size' | 'sha256'> & {
  identity?: string;
};

/** Metadata a version may carry in its source: parameter count, license. */
function meta(version?: HubVersion) {
  const source = (version?.source ?? {}) as Record<string, unknown>;
  let parameters: number | undefined;
  if (typeof source.parameters === 'number') {
    parameters = source.parameters;
  } else if (typeof source.parameterCount === 'number') {
    parameters = source.parameterCount;
  }
  const license =
    typeof source.license === 'string' ? source.license : undefined;
  return { parameters, license };
}

function change<T>(from: T | undefined, to: T | undefined): ValueChange<T> {
  return { from, to, changed: from !== to };
}

/**
 * The parameter count of a version from its format inspection checks
 * (`details.parameterCount` of the per-file `inspect:format:*` checks);
 * undefined when none was recorded.
 *
 * @internal
 */
export function parametersFromChecks(
  checks: { name: string; details?: Record<string, unknown> }[],
): number | undefined {
  let total: number | undefined;
  for (const check of checks) {
    const count = Number(check.details?.parameterCount);
    if (check.name.startsWith('inspect:format:') && Number.isFinite(count)) {
      total = (total ?? 0) + count;
    }
  }
  return total;
}

/**
 * Compares the files of a version with those of a base version by path
 * and SHA-256, and the parameter count and license where they are stored
 * (a version's source metadata, else the parameter count given from its
 * format inspections; the license falls back to the model's).
 *
 * @internal
 */
export function diffVersions(options: {
  base?: { version: HubVersion; files: DiffFile[]; parameters?: number };
  target: { version: HubVersion; files: DiffFile[]; parameters?: number };
  modelLicense?: string;
}): VersionDiff {
  const { base, target } = options;
  const before = new Map((base?.files ?? []).map(f => [f.path, f]));
  const after = new Map(target.files.map(f => [f.path, f]));
  const pick = (f: DiffFile) => ({
    path: f.path,
    size: f.size,
    sha256: f.sha256,
  });
  const added = target.files.filter(f => !before.has(f.path)).map(pick);
  const removed = (base?.files ?? []).filter(f => !after.has(f.path)).map(pick);
  const changed: VersionDiff['files']['changed'] = [];
  let unchanged = 0;
  for (const f of target.files) {
    const old = before.get(f.path);
    if (!old) {
      continue;
    }
    if ((old.identity ?? old.sha256) === (f.identity ?? f.sha256)) {
      unchanged += 1;
    } else {
      changed.push({
        path: f.path,
        from: { size: old.size, sha256: old.sha256 },
        to: { size: f.size, sha256: f.sha256 },
      });
    }
  }
  const sum = (files: DiffFile[]) => files.reduce((s, f) => s + f.size, 0);
  const metaBefore = meta(base?.version);
  const metaAfter = meta(target.version);
  return {
    base: base
      ? { label: base.version.label, state: base.version.state }
      : undefined,
    files: { added, removed, changed, unchanged },
    totalSize: change(base ? sum(base.files) : undefined, sum(target.files)),
    parameters: change(
      metaBefore.parameters ?? base?.parameters,
      metaAfter.parameters ?? target.parameters,
    ),
    license: change(
      base ? metaBefore.license ?? options.modelLicense : undefined,
      metaAfter.license ?? options.modelLicense,
    ),
  };
}
