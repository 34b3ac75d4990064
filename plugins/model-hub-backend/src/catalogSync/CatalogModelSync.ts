import {
  AuditorService,
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  Entity,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  isModelEntity,
  MODEL_HUB_ORIGIN_ANNOTATION,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { modelEntityRef } from '../database/rows';
import { ModelHubStore } from '../database/ModelHubStore';
import { ModelsStore } from '../database/ModelsStore';
import { CatalogSyncStore } from './CatalogSyncStore';
import {
  ANNOTATION_ORPHAN,
  CATALOG_ORIGIN,
  CatalogModelFields,
  CatalogModelRow,
  CatalogSyncChange,
  CatalogSyncResult,
  changedFields,
  DbDate,
  fieldsOfModelEntity,
  hashOf,
  NOTIFY_GRACE_MS,
  STALE_PASS_MS,
  STATE_ID,
  toDate,
} from './catalogModelFields';

export { CATALOG_ORIGIN, fieldsOfModelEntity } from './catalogModelFields';
export type {
  CatalogModelFields,
  CatalogSyncChange,
  CatalogSyncResult,
} from './catalogModelFields';

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
  ) {
    this.models = new ModelsStore(options.db);
    this.state = new CatalogSyncStore(options.db);
  }

  private readonly models: ModelsStore;
  private readonly state: CatalogSyncStore;

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
    const rows = new Map<string, CatalogModelRow>();
    for (let i = 0; i < candidates.length; i += 500) {
      const found: CatalogModelRow[] = await this.db('models').whereIn(
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
    await this.models.setCatalogMarks(undefined, unchanged, { seenAt });
    return results;
  }

  private async write(
    ref: string,
    row: CatalogModelRow | undefined,
    fields: CatalogModelFields,
    hash: string,
    seenAt: Date,
    notified: boolean,
  ): Promise<CatalogSyncChange> {
    // a report is not a sighting by a pass: it only holds off the pass
    const sighting = notified ? { notifiedAt: new Date() } : { seenAt };
    if (!row) {
      try {
        await this.options.store.createModel({
          ...fields,
          createdBy: CATALOG_ORIGIN,
        });
        await this.models.setCatalogMarks(undefined, [ref], {
          hash,
          ...sighting,
        });
        await this.audit(ref, 'created', { owner: fields.owner });
        return 'created';
      } catch (error) {
        if ((error as Error).name !== 'ConflictError') {
          throw error;
        }
        // created concurrently (first use of the model, or another pass)
        const again: CatalogModelRow | undefined = await this.db('models')
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
    try {
      await this.models.updateModel(undefined, {
        modelId: row.id,
        patch: {
          title: fields.title ?? null,
          description: fields.description ?? null,
          type: fields.type,
          task: fields.task ?? null,
          format: fields.format ?? null,
          license: fields.license ?? null,
          lifecycle: fields.lifecycle,
          owner: fields.owner,
          system: fields.system ?? null,
          sourceType: fields.sourceType,
          source: fields.source ?? null,
          tags: fields.tags,
        },
        touch: changed.length > 0 || restored,
        catalog: { hash, ...sighting, restore: true },
        now,
      });
    } catch (error) {
      if ((error as Error).name === 'NotFoundError') {
        // deleted concurrently
        return 'skipped';
      }
      throw error;
    }
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
    const state = await this.state.getState(STATE_ID);
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
        if (await this.models.orphanModel(row.id, orphanedAt)) {
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
    const state = await this.state.getState(STATE_ID);
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
    await this.state.saveState(STATE_ID, values);
  }
}
