import { createHash } from 'node:crypto';
import {
  AuditorService,
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  Entity,
  parseEntityRef,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  isModelEntity,
  MODEL_HUB_ORIGIN_ANNOTATION,
  ModelEntityV1alpha1,
  ModelSource,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { ModelHubStore } from '../database/ModelHubStore';

/** `created_by` of the hub rows of catalog-defined models. */
export const CATALOG_ORIGIN = 'catalog';

const STATE_ID = 'catalog-models';
/**
 * How long a model the catalog module reported stays as reported: the module
 * reports an entity while the catalog processes it, before the catalog
 * commits it, so a pass reading the catalog in between sees the entity's
 * previous state (or none yet).
 */
const NOTIFY_GRACE_MS = 60_000;
/** The catalog's mark of an entity its location no longer emits. */
const ANNOTATION_ORPHAN = 'backstage.io/orphan';
/** A pass older than this is started again instead of resumed. */
const STALE_PASS_MS = 24 * 60 * 60 * 1000;

type DbDate = Date | string | number;

function toDate(value: DbDate): Date {
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
function hashOf(fields: CatalogModelFields): string {
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

type ModelRow = {
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
function changedFields(row: ModelRow, fields: CatalogModelFields): string[] {
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

/**
 * Keeps the hub rows of catalog-defined `Model` entities one with the
 * catalog, which is their source of truth:
 *
 * - a reconcile pass pages through every `Model` of the catalog (its cursor
 *   and start time are kept in `catalog_sync_state`, so a pass interrupted by
 *   a restart resumes where it stopped), creates the missing rows, applies
 *   changed fields (owner, lifecycle, type, tags, system, title, ...) and, at
 *   its end, marks the catalog-defined rows it did not see as orphaned;
 * - {@link CatalogModelSync.applyEntities} applies entities the catalog has
 *   just processed (the catalog module notifies the hub), so edits arrive
 *   before the next pass.
 *
 * Models created through the API (`created_by` other than `catalog`) flow
 * the other way, through the entity provider, and are never written here;
 * the entities that provider emits are recognised by their
 * {@link MODEL_HUB_ORIGIN_ANNOTATION} or their location and skipped.
 *
 * @internal
 */
export class CatalogModelSync {
  constructor(
    private readonly options: {
      db: Knex;
      store: ModelHubStore;
      catalog: CatalogService;
      auth: AuthService;
      discovery: DiscoveryService;
      auditor: AuditorService;
      logger: LoggerService;
      pageSize?: number;
    },
  ) {}

  private get db() {
    return this.options.db;
  }

  /** Whether the entity was emitted by the Model Hub entity provider. */
  private async emittedByHub(entity: Entity): Promise<boolean> {
    const annotations = entity.metadata.annotations ?? {};
    if (annotations[MODEL_HUB_ORIGIN_ANNOTATION] === 'hub') {
      return true;
    }
    const location = annotations[ANNOTATION_LOCATION] ?? '';
    if (!location.startsWith('url:')) {
      return false;
    }
    const base = await this.options.discovery.getExternalBaseUrl('model-hub');
    return location.startsWith(`url:${base}/models/`);
  }

  /**
   * Applies catalog `Model` entities to their hub rows: those a pass read
   * (`seenAt` marks them as seen by it), or, with `notified`, those the
   * catalog module reported while the catalog processed them.
   */
  async applyEntities(
    entities: Entity[],
    seenAt: Date = new Date(),
    options: { notified?: boolean } = {},
  ): Promise<Array<{ entityRef: string; change: CatalogSyncChange }>> {
    const notified = options.notified ?? false;
    const results: Array<{ entityRef: string; change: CatalogSyncChange }> = [];
    const unchanged: string[] = [];
    const candidates: Array<{ ref: string; fields: CatalogModelFields }> = [];
    for (const entity of entities) {
      if (
        !isModelEntity(entity) ||
        // removed from its location, kept by the catalog until its cleanup
        entity.metadata.annotations?.[ANNOTATION_ORPHAN] === 'true' ||
        (await this.emittedByHub(entity))
      ) {
        results.push({
          entityRef: stringifyEntityRef(entity).toLocaleLowerCase('en-US'),
          change: 'skipped',
        });
        continue;
      }
      const fields = fieldsOfModelEntity(entity);
      candidates.push({
        ref: modelEntityRef(fields.namespace, fields.name),
        fields,
      });
    }
    const rows = new Map<string, ModelRow>();
    for (let i = 0; i < candidates.length; i += 500) {
      const found: ModelRow[] = await this.db('models').whereIn(
        'entity_ref',
        candidates.slice(i, i + 500).map(c => c.ref),
      );
      found.forEach(r => rows.set(r.entity_ref, r));
    }
    for (const { ref, fields } of candidates) {
      const row = rows.get(ref);
      if (row && row.created_by !== CATALOG_ORIGIN) {
        // created through the API: the hub is its source of truth
        results.push({ entityRef: ref, change: 'skipped' });
        continue;
      }
      const hash = hashOf(fields);
      const reportedRecently =
        !notified &&
        row?.catalog_notified_at &&
        Date.now() - toDate(row.catalog_notified_at).getTime() <
          NOTIFY_GRACE_MS;
      if (
        row &&
        ((row.catalog_hash === hash && !row.orphaned_at) || reportedRecently)
      ) {
        // unchanged, or just reported: the pass may have read the
        // catalog's previous state of the entity
        if (!notified) {
          unchanged.push(ref);
        }
        results.push({ entityRef: ref, change: 'unchanged' });
        continue;
      }
      const change = await this.write(ref, row, fields, hash, seenAt, notified);
      results.push({ entityRef: ref, change });
    }
    for (let i = 0; i < unchanged.length; i += 500) {
      await this.db('models')
        .whereIn('entity_ref', unchanged.slice(i, i + 500))
        .where({ created_by: CATALOG_ORIGIN })
        .update({ catalog_seen_at: seenAt });
    }
    return results;
  }

  private async write(
    ref: string,
    row: ModelRow | undefined,
    fields: CatalogModelFields,
    hash: string,
    seenAt: Date,
    notified: boolean,
  ): Promise<CatalogSyncChange> {
    // a report is not a sighting by a pass: it only holds off the pass
    const sighting = notified
      ? { catalog_notified_at: new Date() }
      : { catalog_seen_at: seenAt };
    if (!row) {
      try {
        await this.options.store.createModel({
          ...fields,
          createdBy: CATALOG_ORIGIN,
        });
        await this.db('models')
          .where({ entity_ref: ref })
          .update({ catalog_hash: hash, ...sighting });
        await this.audit(ref, 'created', { owner: fields.owner });
        return 'created';
      } catch (error) {
        if ((error as Error).name !== 'ConflictError') {
          throw error;
        }
        // created concurrently (first use of the model, or another pass)
        const again: ModelRow | undefined = await this.db('models')
          .where({ entity_ref: ref })
          .first();
        if (!again || again.created_by !== CATALOG_ORIGIN) {
          return 'skipped';
        }
        return this.write(ref, again, fields, hash, seenAt, notified);
      }
    }
    const changed = changedFields(row, fields);
    const restored = Boolean(row.orphaned_at);
    const now = new Date();
    await this.db.transaction(async tx => {
      await tx('models')
        .where({ id: row.id })
        .update({
          title: fields.title ?? null,
          description: fields.description ?? null,
          type: fields.type,
          task: fields.task ?? null,
          format: fields.format ?? null,
          license: fields.license ?? null,
          lifecycle: fields.lifecycle,
          owner: fields.owner,
          system: fields.system ?? null,
          source_type: fields.sourceType,
          source:
            fields.source === undefined ? null : JSON.stringify(fields.source),
          tags: JSON.stringify(fields.tags),
          search_text: [
            fields.name,
            fields.title ?? '',
            fields.description ?? '',
            ...fields.tags,
          ]
            .join(' ')
            .toLocaleLowerCase('en-US'),
          catalog_hash: hash,
          ...sighting,
          orphaned_at: null,
          ...(changed.length || restored ? { updated_at: now } : {}),
        });
      if (changed.includes('tags')) {
        await tx('model_tags').where({ model_id: row.id }).delete();
        if (fields.tags.length) {
          await tx('model_tags').insert(
            fields.tags.map(tag => ({ model_id: row.id, tag })),
          );
        }
      }
    });
    if (restored) {
      await this.audit(ref, 'restored', { fields: changed });
      return 'restored';
    }
    if (changed.length) {
      await this.audit(ref, 'updated', { fields: changed });
      return 'updated';
    }
    return 'unchanged';
  }

  private async audit(
    modelRef: string,
    change: CatalogSyncChange,
    meta: Record<string, string | string[]>,
  ) {
    const eventId = `model-catalog-${change}`;
    const event = await this.options.auditor.createEvent({
      eventId,
      severityLevel: change === 'orphaned' ? 'medium' : 'low',
      meta: { modelRef, ...meta },
    });
    await event.success();
    await this.options.store.addAuditEvent({
      eventId,
      actor: CATALOG_ORIGIN,
      modelRef,
      meta,
    });
  }

  /**
   * One reconcile pass over every `Model` of the catalog (or the rest of an
   * interrupted pass), then the orphaning of catalog-defined rows the pass
   * did not see.
   */
  async reconcile(): Promise<CatalogSyncResult> {
    const result: CatalogSyncResult = {
      created: 0,
      updated: 0,
      restored: 0,
      unchanged: 0,
      skipped: 0,
      orphaned: 0,
    };
    const now = new Date();
    const state = await this.db('catalog_sync_state')
      .where({ id: STATE_ID })
      .first();
    let passStartedAt: Date;
    let cursor: string | undefined;
    if (
      state?.pass_started_at &&
      now.getTime() - toDate(state.pass_started_at).getTime() < STALE_PASS_MS
    ) {
      passStartedAt = toDate(state.pass_started_at);
      cursor = state.cursor ?? undefined;
      this.options.logger.info(
        `Resuming the catalog reconcile pass started at ${passStartedAt.toISOString()}`,
      );
    } else {
      passStartedAt = now;
      await this.saveState({ pass_started_at: now, cursor: null });
    }

    try {
      const credentials = await this.options.auth.getOwnServiceCredentials();
      const limit = this.options.pageSize ?? 200;
      const fields = ['apiVersion', 'kind', 'metadata', 'spec'];
      for (;;) {
        const page = await this.options.catalog.queryEntities(
          cursor
            ? { cursor, limit, fields }
            : {
                filter: { kind: 'model' },
                limit,
                fields,
                orderFields: { field: 'metadata.name', order: 'asc' },
                totalItems: 'exclude',
              },
          { credentials },
        );
        for (const { change } of await this.applyEntities(
          page.items,
          new Date(),
        )) {
          result[change] += 1;
        }
        cursor = page.pageInfo.nextCursor;
        await this.saveState({ cursor: cursor ?? null });
        if (!cursor || page.items.length === 0) {
          break;
        }
      }

      const gone: Array<{
        id: string;
        entity_ref: string;
        catalog_seen_at: DbDate | null;
        catalog_notified_at: DbDate | null;
      }> = await this.db('models')
        .where({ created_by: CATALOG_ORIGIN })
        .whereNull('orphaned_at')
        .where(w =>
          w
            .whereNull('catalog_seen_at')
            .orWhere('catalog_seen_at', '<', passStartedAt),
        )
        .select('id', 'entity_ref', 'catalog_seen_at', 'catalog_notified_at');
      for (const row of gone) {
        // asked once more: the pass may have read the catalog before it
        // committed an entity that the catalog module already reported
        const entity = await this.options.catalog.getEntityByRef(
          row.entity_ref,
          { credentials },
        );
        const held =
          entity &&
          isModelEntity(entity) &&
          entity.metadata.annotations?.[ANNOTATION_ORPHAN] !== 'true' &&
          !(await this.emittedByHub(entity));
        if (held) {
          await this.applyEntities([entity]);
          continue;
        }
        const reportedRecently =
          row.catalog_notified_at &&
          Date.now() - toDate(row.catalog_notified_at).getTime() <
            NOTIFY_GRACE_MS;
        if (!entity && !row.catalog_seen_at && reportedRecently) {
          // reported, not committed by the catalog yet
          continue;
        }
        const orphanedAt = new Date();
        const updated = await this.db('models')
          .where({ id: row.id })
          .whereNull('orphaned_at')
          .update({ orphaned_at: orphanedAt, updated_at: orphanedAt });
        if (updated) {
          result.orphaned += 1;
          await this.audit(row.entity_ref, 'orphaned', {});
        }
      }
      await this.saveState({
        pass_started_at: null,
        cursor: null,
        last_completed_at: new Date(),
        last_error: null,
        last_result: JSON.stringify(result),
      });
      return result;
    } catch (error) {
      await this.saveState({ last_error: String(error) });
      throw error;
    }
  }

  /** The state of the reconcile, for `GET /catalog-sync`. */
  async getState(): Promise<{
    passStartedAt?: string;
    lastCompletedAt?: string;
    lastError?: string;
    lastResult?: CatalogSyncResult;
  }> {
    const state = await this.db('catalog_sync_state')
      .where({ id: STATE_ID })
      .first();
    if (!state) {
      return {};
    }
    return {
      ...(state.pass_started_at && {
        passStartedAt: toDate(state.pass_started_at).toISOString(),
      }),
      ...(state.last_completed_at && {
        lastCompletedAt: toDate(state.last_completed_at).toISOString(),
      }),
      ...(state.last_error && { lastError: state.last_error }),
      ...(state.last_result && { lastResult: JSON.parse(state.last_result) }),
    };
  }

  private async saveState(values: Record<string, unknown>) {
    const now = new Date();
    await this.db('catalog_sync_state')
      .insert({ id: STATE_ID, updated_at: now, ...values })
      .onConflict('id')
      .merge({ ...values, updated_at: now });
  }
}
