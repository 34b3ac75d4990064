import type { ModelFormat, ModelSource, ModelType } from '../types';
import type { HubModel, HubVersion, SourceType, VersionState } from './core';

/** A page of results of a paginated list. @public */
export type Page<T> = {
  items: T[];
  totalCount: number;
  offset: number;
  limit: number;
};

/** The active version of a model (`GET /models/{namespace}/{name}/active`). @public */
export type HubActiveVersion = {
  versionId: string;
  label: string;
  state: VersionState;
  promotedBy: string;
  promotedAt: string;
};

/** A model in the models list (`GET /models`), with a summary of its versions. @public */
export type HubModelSummary = HubModel & {
  versionCount?: number;
  latestVersion?: { label: string; state: VersionState; createdAt: string };
  /** The active version (null: none; absent: an older backend). */
  activeVersion?: {
    label: string;
    state: VersionState;
    promotedAt: string;
    promotedBy: string;
  } | null;
  /**
   * The version that needs most attention: one with failed checks first,
   * then changes requested, in review, draft, deprecated, approved.
   */
  worstState?: {
    label: string;
    state: VersionState;
    failedChecks: string[];
  } | null;
};

/** The version the hub created for an upstream commit (drift). @public */
export type HubDriftVersion = {
  label: string;
  state: VersionState;
  commit: string;
  previousCommit?: string;
  /** The active approved version it is diffed against. */
  baseLabel?: string;
  policy?: 'review' | 'notify' | 'ignore';
  /**
   * `awaiting_files`: submitted for review once its downloads are done and
   * its required checks pass; `blocked`: a required check failed;
   * `failed`: its download failed.
   */
  status?:
    | 'awaiting_files'
    | 'submitted'
    | 'notified'
    | 'ignored'
    | 'blocked'
    | 'failed'
    | string;
  /** Why it is blocked or failed. */
  detail?: string;
  createdAt?: string;
  updatedAt?: string;
};

/** The upstream sync state of a model synced from Hugging Face. @public */
export type HubModelSync = {
  repoId: string;
  /** The tracked revision. */
  revision: string;
  syncState: 'pending' | 'synced' | 'failed' | string;
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  /** Upstream has a commit no version of the model is pinned to yet. */
  drift: boolean;
  lastError?: string;
  lastErrorAt?: string;
  onDrift?: 'review' | 'notify' | 'ignore' | string;
  /** The newest version created for upstream drift. */
  driftVersion?: HubDriftVersion;
};

/** A model with its versions (`GET /models/{namespace}/{name}`). @public */
export type HubModelWithVersions = HubModel & {
  versions: HubVersion[];
  /** The active version (absent: an older backend). */
  activeVersion?: HubActiveVersion | null;
  /** The upstream sync state; null for models not synced from Hugging Face. */
  sync?: HubModelSync | null;
};

/** A namespace and how many models it holds (`GET /namespaces`). @public */
export type HubNamespaceCount = { namespace: string; count: number };

/** Filters, search, sort and page of the models list (`GET /models`). @public */
export type ListModelsRequest = {
  offset?: number;
  namespace?: string[];
  limit?: number;
  type?: string[];
  state?: VersionState[];
  owner?: string[];
  source?: SourceType[];
  tag?: string[];
  q?: string;
  sort?: 'name' | 'createdAt' | 'updatedAt';
  order?: 'asc' | 'desc';
};

/** A model created through the API (`POST /models`). @public */
export type CreateModelRequest = {
  name: string;
  namespace?: string;
  title?: string;
  description?: string;
  type: ModelType;
  task?: string;
  format?: ModelFormat;
  license?: string;
  /** Default `experimental`. */
  lifecycle?: string;
  /** Entity ref, default kind group. */
  owner: string;
  tags?: string[];
  source?: ModelSource;
};

/**
 * Metadata of a model created through the API
 * (`PATCH /models/{namespace}/{name}`); `null` clears an optional field.
 * Catalog-defined models are edited in their catalog YAML.
 *
 * @public
 */
export type UpdateModelRequest = {
  title?: string | null;
  description?: string | null;
  type?: HubModel['type'];
  task?: string | null;
  format?: HubModel['format'] | null;
  license?: string | null;
  lifecycle?: string;
  owner?: string;
  system?: string | null;
  tags?: string[];
  /** The model's `updatedAt` as read: the change fails (409) if it changed since. */
  expectedUpdatedAt?: string;
};

/** A new draft version (`POST /models/{namespace}/{name}/versions`). @public */
export type CreateVersionRequest = {
  label: string;
  notes?: string;
  source?: ModelSource;
  /** The commit a Hugging Face version is pinned to. */
  resolvedCommit?: string;
  /** `sha256:<hex>` of the version's manifest. */
  manifestDigest?: string;
};
