import type { ModelFormat, ModelSource, ModelType } from '../types';

/*
 * The state enums, file-kind rules and the model and version shapes of the
 * Model Hub REST API.
 */

/**
 * The states a model version can be in.
 *
 * @public
 */
export const VERSION_STATES = [
  'draft',
  'in_review',
  'approved',
  'changes_requested',
  'rejected',
  'deprecated',
  'archived',
] as const;

/** @public */
export type VersionState = (typeof VERSION_STATES)[number];

/**
 * The kinds of files of a version.
 *
 * @public
 */
export const FILE_KINDS = [
  'weights',
  'config',
  'tokenizer',
  'docs',
  'other',
] as const;

/** @public */
export type FileKind = (typeof FILE_KINDS)[number];

/**
 * The kind of a file, from its path: the one classifier that uploads,
 * packages, HF downloads and the local scan use.
 *
 * @public
 */
export function fileKindOf(path: string): FileKind {
  const base = path.split('/').pop()!.toLocaleLowerCase('en-US');
  if (
    /\.(safetensors|bin|pt|pth|ckpt|gguf|ggml|onnx|h5|keras|pb|tflite|msgpack|joblib|pkl|npz)$/.test(
      base,
    )
  ) {
    return 'weights';
  }
  if (
    /^(tokenizer.*|vocab\..*|merges\.txt|special_tokens_map\.json|added_tokens\.json|.*\.model|spiece\..*)$/.test(
      base,
    )
  ) {
    return 'tokenizer';
  }
  if (
    /^(config|generation_config|preprocessor_config)\.json$|\.(ya?ml|json|toml|cfg|ini)$/.test(
      base,
    )
  ) {
    return 'config';
  }
  if (/\.(md|rst|txt|pdf|html)$|^(license|notice|readme)(\..*)?$/.test(base)) {
    return 'docs';
  }
  return 'other';
}

/**
 * The states in which a version's files may change; in every other state
 * its files are frozen.
 *
 * @public
 */
export const EDITABLE_VERSION_STATES: readonly VersionState[] = [
  'draft',
  'changes_requested',
];

/**
 * The states in which a failed check of a version may still be waived.
 *
 * @public
 */
export const WAIVABLE_VERSION_STATES: readonly VersionState[] = [
  'draft',
  'changes_requested',
  'in_review',
];

/**
 * Whether the files of a version are the ones it was approved with (its
 * content digest equals the digest its approval recorded). The mirror, the
 * download route and deployments serve an approved version only while
 * this holds.
 *
 * @public
 */
export function matchesApprovedContent(
  version: Pick<HubVersion, 'contentDigest' | 'approvedDigest'>,
): boolean {
  return (
    version.approvedDigest !== undefined &&
    version.contentDigest === version.approvedDigest
  );
}

/** The states of a background job. @public */
export const JOB_STATES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;

/** @public */
export type JobState = (typeof JOB_STATES)[number];

/** Where a model's or version's artifacts come from. @public */
export type SourceType = 'upload' | 'huggingface';

/**
 * A model of the hub, keyed by its catalog entity ref
 * (`GET /models/{namespace}/{name}`).
 *
 * @public
 */
export type HubModel = {
  id: string;
  entityRef: string;
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  type: ModelType;
  task?: string;
  format?: ModelFormat;
  license?: string;
  lifecycle: string;
  owner: string;
  sourceType: SourceType;
  source?: ModelSource;
  tags: string[];
  /** Entity ref of the system the model is part of. */
  system?: string;
  /**
   * Where the model is defined, and so which side is the source of truth:
   * `catalog` (catalog YAML; reconciled into the hub, read-only here) or
   * `hub` (created through the API; emitted into the catalog).
   */
  origin?: 'catalog' | 'hub';
  /**
   * When the catalog stopped holding this catalog-defined model: it is
   * read-only and an administrator may delete it.
   */
  orphanedAt?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
};

/** A version of a model. @public */
export type HubVersion = {
  id: string;
  modelId: string;
  label: string;
  state: VersionState;
  sourceType: SourceType;
  source?: unknown;
  resolvedCommit?: string;
  manifestDigest?: string;
  notes?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  revision: number;
  /**
   * `sha256:<hex>` over the sorted path, sha256 and size of the files;
   * changes with every added or removed file.
   */
  contentDigest?: string;
  /** The content digest the version was approved with. */
  approvedDigest?: string;
  fileCount: number;
  totalSize: number;
};
