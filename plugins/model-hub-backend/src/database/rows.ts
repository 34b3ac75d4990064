import { isDatabaseConflictError } from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';
import { Knex } from 'knex';
import {
  HubBlob,
  HubFile,
  HubJob,
  HubModel,
  HubVersion,
  VersionState,
} from './types';

/** A date as the database hands it back. @internal */
export type DbDate = Date | string | number;

/** @internal */
export type ModelRow = {
  id: string;
  entity_ref: string;
  namespace: string;
  name: string;
  title: string | null;
  description: string | null;
  type: string;
  task: string | null;
  format: string | null;
  license: string | null;
  lifecycle: string;
  owner: string;
  source_type: string;
  source: string | null;
  tags: string;
  search_text: string;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  system?: string | null;
  orphaned_at?: DbDate | null;
};

/** @internal */
export type VersionRow = {
  id: string;
  model_id: string;
  label: string;
  state: string;
  source_type: string;
  source: string | null;
  resolved_commit: string | null;
  manifest_digest: string | null;
  notes: string | null;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  revision: number;
  content_digest: string | null;
  approved_digest: string | null;
};

/** @internal */
export type FileRow = {
  id: string;
  version_id: string;
  path: string;
  size: number | string;
  sha256: string;
  kind: string;
  created_by: string;
  created_at: DbDate;
};

/** @internal */
export type BlobRow = {
  sha256: string;
  size: number | string;
  ref_count: number;
  location: string;
  created_at: DbDate;
  last_referenced_at: DbDate;
};

/** @internal */
export type JobRow = {
  id: string;
  type: string;
  state: string;
  model_id: string | null;
  model_ref?: string | null;
  version_id: string | null;
  params: string;
  progress: string;
  attempts: number;
  max_attempts: number;
  leased_by: string | null;
  lease_expires_at: DbDate | null;
  error: string | null;
  created_by: string;
  created_at: DbDate;
  updated_at: DbDate;
  started_at: DbDate | null;
  finished_at: DbDate | null;
};

/** @internal */
export function toIso(value: DbDate): string {
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'number') {
    return new Date(value).toISOString();
  }
  // SQLite may hand back numbers as strings, Postgres text as ISO strings
  return /^\d+$/.test(value)
    ? new Date(Number(value)).toISOString()
    : new Date(value).toISOString();
}

/** {@link toIso}, or `undefined` for a missing value. @internal */
export function toOptionalIso(
  value: DbDate | null | undefined,
): string | undefined {
  return value === null || value === undefined ? undefined : toIso(value);
}

function parseJson<T>(value: string | null | undefined, fallback: T): T {
  if (value === null || value === undefined || value === '') {
    return fallback;
  }
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

function opt<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

/** Escapes LIKE wildcards; used with `escape '\'`. @internal */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, c => `\\${c}`);
}

/**
 * Runs a write, turning a unique-constraint violation (a concurrent insert
 * of the same key) into a `ConflictError` (409).
 *
 * @internal
 */
export async function conflictOnDuplicate<T>(
  message: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isDatabaseConflictError(error)) {
      throw new ConflictError(message, error);
    }
    throw error;
  }
}

/**
 * Runs `fn` in the given transaction, or in a new one of `db`.
 *
 * @internal
 */
export function inTransaction<T>(
  db: Knex,
  trx: Knex.Transaction | undefined,
  fn: (tx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return trx ? fn(trx) : db.transaction(fn);
}

/** The lower-cased entity ref of a model. @internal */
export function modelEntityRef(namespace: string, name: string): string {
  return `model:${namespace}/${name}`.toLocaleLowerCase('en-US');
}

/** @internal */
export function mapModel(row: ModelRow): HubModel {
  return {
    id: row.id,
    entityRef: row.entity_ref,
    namespace: row.namespace,
    name: row.name,
    title: opt(row.title),
    description: opt(row.description),
    type: row.type as HubModel['type'],
    task: opt(row.task),
    format: opt(row.format) as HubModel['format'],
    license: opt(row.license),
    lifecycle: row.lifecycle,
    owner: row.owner,
    sourceType: row.source_type as HubModel['sourceType'],
    source: parseJson(row.source, undefined),
    tags: parseJson(row.tags, []),
    ...(row.system && { system: row.system }),
    origin: row.created_by === 'catalog' ? 'catalog' : 'hub',
    ...(row.orphaned_at && { orphanedAt: toIso(row.orphaned_at) }),
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

/** @internal */
export function mapVersion(
  row: VersionRow,
  counts: {
    file_count?: number | string | null;
    total_size?: number | string | null;
  },
): HubVersion {
  return {
    id: row.id,
    modelId: row.model_id,
    label: row.label,
    state: row.state as VersionState,
    sourceType: row.source_type as HubVersion['sourceType'],
    source: parseJson(row.source, undefined),
    resolvedCommit: opt(row.resolved_commit),
    manifestDigest: opt(row.manifest_digest),
    notes: opt(row.notes),
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    revision: Number(row.revision),
    contentDigest: opt(row.content_digest),
    approvedDigest: opt(row.approved_digest),
    fileCount: Number(counts.file_count ?? 0),
    totalSize: Number(counts.total_size ?? 0),
  };
}

/** @internal */
export function mapFile(row: FileRow): HubFile {
  return {
    path: row.path,
    size: Number(row.size),
    sha256: row.sha256,
    kind: row.kind as HubFile['kind'],
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
  };
}

/** @internal */
export function mapBlob(row: BlobRow): HubBlob {
  return {
    sha256: row.sha256,
    size: Number(row.size),
    refCount: Number(row.ref_count),
    location: row.location,
    createdAt: toIso(row.created_at),
    lastReferencedAt: toIso(row.last_referenced_at),
  };
}

/** @internal */
export function mapJob(row: JobRow): HubJob {
  return {
    id: row.id,
    type: row.type,
    state: row.state as HubJob['state'],
    modelId: opt(row.model_id),
    modelRef: opt(row.model_ref ?? null),
    versionId: opt(row.version_id),
    params: parseJson(row.params, {}),
    progress: parseJson(row.progress, {}),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    leasedBy: opt(row.leased_by),
    leaseExpiresAt: toOptionalIso(row.lease_expires_at),
    error: opt(row.error),
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    startedAt: toOptionalIso(row.started_at),
    finishedAt: toOptionalIso(row.finished_at),
  };
}
