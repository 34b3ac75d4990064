import { Config } from '@backstage/config';

/** The settings of the HF-compatible mirror. @internal */
export type MirrorConfig = {
  /** Serve approved versions to callers without credentials. */
  allowAnonymous: boolean;
  /** Entries per page of the tree listing. */
  treePageSize: number;
  /** Longest lifetime of a personal access token, in days. */
  tokenMaxLifetimeDays: number;
  /**
   * How long the signed-in owner of a personal token and the permission
   * decisions taken for it are reused, in milliseconds (at most 60 s).
   */
  tokenDecisionCacheMs: number;
  /** Pull-through: sync repos that are not mirrored yet (off by default). */
  pullThrough?: { owner: string; revision: string };
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
  const decisionCacheSeconds =
    mirror?.getOptionalNumber('tokens.decisionCacheSeconds') ?? 60;
  if (
    !Number.isFinite(decisionCacheSeconds) ||
    decisionCacheSeconds < 0 ||
    decisionCacheSeconds > 60
  ) {
    throw new Error(
      `modelHub.mirror.tokens.decisionCacheSeconds must be between 0 and 60, got ${decisionCacheSeconds}`,
    );
  }
  let pullThrough: MirrorConfig['pullThrough'];
  if (mirror?.getOptionalBoolean('pullThrough.enabled')) {
    const owner = mirror.getOptionalString('pullThrough.owner');
    if (!owner) {
      throw new Error(
        'modelHub.mirror.pullThrough.enabled is set but modelHub.mirror.pullThrough.owner is missing; set the group that owns pulled models',
      );
    }
    pullThrough = {
      owner,
      revision: mirror.getOptionalString('pullThrough.revision') ?? 'main',
    };
  }
  return {
    pullThrough,
    allowAnonymous: mirror?.getOptionalBoolean('allowAnonymous') ?? false,
    treePageSize,
    tokenMaxLifetimeDays,
    tokenDecisionCacheMs: decisionCacheSeconds * 1000,
  };
}
