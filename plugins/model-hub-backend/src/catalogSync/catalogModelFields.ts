// The catalog-defined models' fields and the constants of their sync
// (CatalogModelSync).
import { createHash } from 'node:crypto';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ModelEntityV1alpha1,
  ModelSource,
} from '@model-hub/backstage-plugin-model-hub-common';

/** `created_by` of the hub rows of catalog-defined models. */
export const CATALOG_ORIGIN = 'catalog';

export const STATE_ID = 'catalog-models';
/**
 * How long a model the catalog module reported stays as reported: the module
 * reports an entity while the catalog processes it, before the catalog
 * commits it, so a pass reading the catalog in between sees the entity's
 * previous state (or none yet).
 */
export const NOTIFY_GRACE_MS = 60_000;
/** The catalog's mark of an entity its location no longer emits. */
export const ANNOTATION_ORPHAN = 'backstage.io/orphan';
/** A pass older than this is started again instead of resumed. */
export const STALE_PASS_MS = 24 * 60 * 60 * 1000;

export type DbDate = Date | string | number;

export function toDate(value: DbDate): Date {
  if (value instanceof Date) {
    return value;
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    return new Date(Number(value));
  }
  return new Date(value);
}

/** The hub fields of a catalog-defined model. */
export type CatalogModelFields = {
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  type: ModelEntityV1alpha1['spec']['type'];
  task?: string;
  format?: ModelEntityV1alpha1['spec']['format'];
  license?: string;
  lifecycle: string;
  owner: string;
  system?: string;
  sourceType: 'huggingface' | 'upload';
  source?: ModelSource;
  tags: string[];
};

/** What a reconcile did to one model. */
export type CatalogSyncChange =
  | 'created'
  | 'updated'
  | 'restored'
  | 'unchanged'
  | 'skipped'
  | 'orphaned';

/** Counts of a reconcile pass. */
export type CatalogSyncResult = Record<CatalogSyncChange, number>;

function sourceTypeOf(source: ModelSource | undefined) {
  return source && typeof source === 'object' && 'huggingface' in source
    ? ('huggingface' as const)
    : ('upload' as const);
}

function normalizedRef(
  ref: string,
  defaultKind: string,
  defaultNamespace: string,
): string {
  return stringifyEntityRef(
    parseEntityRef(ref, { defaultKind, defaultNamespace }),
  ).toLocaleLowerCase('en-US');
}

/** The hub fields of a `Model` entity, as the catalog holds it. */
export function fieldsOfModelEntity(
  entity: ModelEntityV1alpha1,
): CatalogModelFields {
  const namespace = entity.metadata.namespace ?? 'default';
  const spec = entity.spec;
  return {
    namespace,
    name: entity.metadata.name,
    ...(entity.metadata.title && { title: entity.metadata.title }),
    ...(entity.metadata.description && {
      description: entity.metadata.description,
    }),
    type: spec.type,
    ...(spec.task && { task: spec.task }),
    ...(spec.format && { format: spec.format }),
    ...(spec.license && { license: spec.license }),
    lifecycle: spec.lifecycle,
    owner: normalizedRef(spec.owner, 'group', namespace),
    ...(spec.system && {
      system: normalizedRef(spec.system, 'system', namespace),
    }),
    sourceType: sourceTypeOf(spec.source),
    ...(spec.source !== undefined && { source: spec.source }),
    tags: [...new Set(entity.metadata.tags ?? spec.tags ?? [])],
  };
}

/** A stable digest of the fields, to skip unchanged entities cheaply. */
export function hashOf(fields: CatalogModelFields): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(sorted);
    }
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.keys(value as object)
          .sort()
          .map(k => [k, sorted((value as Record<string, unknown>)[k])]),
      );
    }
    return value;
  };
  return createHash('sha256')
    .update(JSON.stringify(sorted(fields)))
    .digest('hex');
}

export type CatalogModelRow = {
  id: string;
  entity_ref: string;
  title: string | null;
  description: string | null;
  type: string;
  task: string | null;
  format: string | null;
  license: string | null;
  lifecycle: string;
  owner: string;
  system: string | null;
  source_type: string;
  source: string | null;
  tags: string;
  created_by: string;
  catalog_hash: string | null;
  catalog_seen_at: DbDate | null;
  catalog_notified_at: DbDate | null;
  orphaned_at: DbDate | null;
};

/** The fields of a row, in the shape of {@link CatalogModelFields}. */
export function changedFields(
  row: CatalogModelRow,
  fields: CatalogModelFields,
): string[] {
  const current: Record<string, unknown> = {
    title: row.title ?? undefined,
    description: row.description ?? undefined,
    type: row.type,
    task: row.task ?? undefined,
    format: row.format ?? undefined,
    license: row.license ?? undefined,
    lifecycle: row.lifecycle,
    owner: row.owner,
    system: row.system ?? undefined,
    source: row.source ? JSON.parse(row.source) : undefined,
    tags: JSON.parse(row.tags || '[]'),
  };
  return Object.keys(current).filter(
    key =>
      JSON.stringify(current[key]) !==
      JSON.stringify((fields as Record<string, unknown>)[key]),
  );
}
