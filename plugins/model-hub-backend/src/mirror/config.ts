import { Config } from '@backstage/config';

/** The settings of the HF-compatible mirror. @internal */
export type MirrorConfig = {
  /** Serve approved versions to callers without credentials. */
  allowAnonymous: boolean;
  /** Entries per page of the tree listing. */
  treePageSize: number;
  /** Longest lifetime of a personal access token, in days. */
  tokenMaxLifetimeDays: number;
};

/** Reads `modelHub.mirror` with its defaults. @internal */
export function readMirrorConfig(config: Config): MirrorConfig {
  const mirror = config.getOptionalConfig('modelHub.mirror');
  const treePageSize = mirror?.getOptionalNumber('treePageSize') ?? 1000;
  if (!Number.isInteger(treePageSize) || treePageSize < 1) {
    throw new Error(
      `modelHub.mirror.treePageSize must be a positive integer, got ${treePageSize}`,
    );
  }
  const tokenMaxLifetimeDays =
    mirror?.getOptionalNumber('tokens.maxLifetimeDays') ?? 365;
  if (!Number.isInteger(tokenMaxLifetimeDays) || tokenMaxLifetimeDays < 1) {
    throw new Error(
      `modelHub.mirror.tokens.maxLifetimeDays must be a positive integer, got ${tokenMaxLifetimeDays}`,
    );
  }
  return {
    allowAnonymous: mirror?.getOptionalBoolean('allowAnonymous') ?? false,
    treePageSize,
    tokenMaxLifetimeDays,
  };
}
