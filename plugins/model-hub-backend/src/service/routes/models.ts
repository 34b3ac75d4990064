import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ConflictError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import {
  isModelEntity,
  ModelSource,
  modelHubAdminPermission,
  modelHubModelCreatePermission,
  modelHubSyncTriggerPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import type {
  HubModelSummary,
  HubVersion,
  Page,
} from '@model-hub/backstage-plugin-model-hub-common';
import { modelEntityRef } from '../../database/DatabaseModelHubStore';
import { hfRepoOfSource } from '../../database/hfRepoIdentity';
import { HubModel } from '../../database/types';
import { RouteContext, principalRef } from '../context';
import { BODY_LIMITS, jsonBody } from '../jsonBody';
import {
  createModelBody,
  createVersionBody,
  listModelsQuery,
  modelParams,
  parseInput,
  syncBody,
  versionParams,
} from '../validation';

const json = jsonBody(BODY_LIMITS.text);
const small = jsonBody(BODY_LIMITS.small);

function sourceType(source: ModelSource | undefined) {
  return source && typeof source === 'object' && 'huggingface' in source
    ? 'huggingface'
    : 'upload';
}

/**
 * Finds the hub row of a model, or creates it from the catalog's Model
 * entity of that ref (models defined in catalog-info.yaml get their row on
 * first use).
 */
async function resolveModel(
  ctx: RouteContext,
  req: Request,
  params: { namespace: string; name: string },
): Promise<HubModel> {
  const ref = modelEntityRef(params.namespace, params.name);
  const existing = await ctx.store.getModel({ entityRef: ref });
  if (existing) {
    return existing;
  }
  const credentials = await ctx.credentials(req);
  const entity = await ctx.options.catalog.getEntityByRef(ref, { credentials });
  if (!entity || !isModelEntity(entity)) {
    throw new NotFoundError(`Model ${ref} not found`);
  }
  const spec = entity.spec;
  try {
    return await ctx.store.createModel({
      namespace: entity.metadata.namespace ?? 'default',
      name: entity.metadata.name,
      title: entity.metadata.title,
      description: entity.metadata.description,
      type: spec.type,
      task: spec.task,
      format: spec.format,
      license: spec.license,
      lifecycle: spec.lifecycle,
      owner: stringifyEntityRef(
        parseEntityRef(spec.owner, {
          defaultKind: 'group',
          defaultNamespace: entity.metadata.namespace ?? 'default',
        }),
      ).toLocaleLowerCase('en-US'),
      sourceType: sourceType(spec.source),
      source: spec.source,
      tags: entity.metadata.tags ?? spec.tags ?? [],
      createdBy: 'catalog',
    });
  } catch (error) {
    // created concurrently
    if ((error as Error).name === 'ConflictError') {
      return (await ctx.store.getModel({ entityRef: ref }))!;
    }
    throw error;
  }
}

/**
 * A catalog-defined model that the catalog no longer holds is read-only
 * (visible, deletable by an admin); 409 for changes.
 */
export function requireNotOrphaned(model: HubModel) {
  if (model.orphanedAt) {
    throw new ConflictError(
      `Model ${model.entityRef} was removed from the catalog and is read-only; an administrator may delete it`,
    );
  }
}

/** Routes of models and their versions. @internal */
export function addModelRoutes(router: Router, ctx: RouteContext) {
  const { store } = ctx;

  router.get('/models', async (req, res) => {
    await ctx.credentials(req);
    const q = parseInput(listModelsQuery, req.query, 'query');
    const { items, totalCount } = await store.listModels({
      readable: await ctx.readCondition(req),
      offset: q.offset,
      limit: q.limit,
      filter: {
        type: q.type,
        state: q.state,
        owner: q.owner,
        source: q.source,
        tag: q.tag,
        namespace: q.namespace,
      },
      search: q.q,
      sort: { field: q.sort, order: q.order },
    });
    res.json({
      items,
      totalCount,
      offset: q.offset,
      limit: q.limit,
    } satisfies Page<HubModelSummary>);
  });

  router.post('/models', json, async (req, res) => {
    const body = parseInput(createModelBody, req.body, 'model');
    const ref = modelEntityRef(body.namespace, body.name);
    const model = await ctx.audited(
      req,
      { eventId: 'model-create', meta: { modelRef: ref, owner: body.owner } },
      async () => {
        const credentials = await ctx.authorize(
          req,
          modelHubModelCreatePermission,
        );
        if (ctx.options.auth.isPrincipal(credentials, 'user')) {
          const { ownershipEntityRefs } =
            await ctx.options.userInfo.getUserInfo(credentials);
          const owns = ownershipEntityRefs
            .map(r => r.toLocaleLowerCase('en-US'))
            .includes(body.owner);
          if (!owns && !(await ctx.isAllowed(req, modelHubAdminPermission))) {
            throw new NotAllowedError(
              `You can only create models owned by you or one of your groups, not ${body.owner}`,
            );
          }
        }
        const entity = await ctx.options.catalog.getEntityByRef(ref, {
          credentials,
        });
        if (entity) {
          throw new ConflictError(`The catalog already has an entity ${ref}`);
        }
        const created = await store.createModel({
          ...body,
          sourceType: sourceType(body.source),
          createdBy: principalRef(credentials),
        });
        return { result: created, credentials };
      },
    );
    res.status(201).json(model);
  });

  router.get('/models/:namespace/:name', async (req, res) => {
    await ctx.credentials(req);
    const params = parseInput(modelParams, req.params, 'model reference');
    const model = await ctx.requireModel(params);
    const [versions, activeVersion, sync] = await Promise.all([
      store.listVersions({ modelId: model.id }),
      ctx.options.approvals?.getActiveVersion(model),
      ctx.options.modelSync?.describe(model),
    ]);
    // the active (served) version and its state; null when none is promoted;
    // the Hugging Face sync state (drift, lastError); null without one
    res.json({
      ...model,
      versions,
      activeVersion: activeVersion ?? null,
      sync: sync ?? null,
    });
  });

  router.get('/models/:namespace/:name/versions', async (req, res) => {
    await ctx.credentials(req);
    const params = parseInput(modelParams, req.params, 'model reference');
    const model = await ctx.requireModel(params);
    res.json({
      items: await store.listVersions({ modelId: model.id }),
    } satisfies { items: HubVersion[] });
  });

  router.post('/models/:namespace/:name/versions', json, async (req, res) => {
    const params = parseInput(modelParams, req.params, 'model reference');
    const body = parseInput(createVersionBody, req.body, 'version');
    const ref = modelEntityRef(params.namespace, params.name);
    const version = await ctx.audited(
      req,
      {
        eventId: 'version-create',
        meta: { modelRef: ref, versionLabel: body.label },
      },
      async () => {
        const model = await resolveModel(ctx, req, params);
        requireNotOrphaned(model);
        const credentials = await ctx.authorize(
          req,
          modelHubVersionCreatePermission,
          model.entityRef,
        );
        const source = body.source ?? model.source;
        const created = await store.createVersion({
          modelId: model.id,
          label: body.label,
          sourceType: sourceType(source),
          source,
          resolvedCommit: body.resolvedCommit,
          manifestDigest: body.manifestDigest,
          notes: body.notes,
          createdBy: principalRef(credentials),
        });
        return { result: created, credentials };
      },
    );
    res.status(201).json(version);
  });

  router.get('/models/:namespace/:name/versions/:label', async (req, res) => {
    await ctx.credentials(req);
    const params = parseInput(versionParams, req.params, 'version reference');
    const model = await ctx.requireModel(params);
    res.json(
      (await ctx.requireVersion(model, params.label)) satisfies HubVersion,
    );
  });

  router.post('/models/:namespace/:name/sync', small, async (req, res) => {
    const params = parseInput(modelParams, req.params, 'model reference');
    const body = parseInput(syncBody, req.body ?? {}, 'sync request');
    const ref = modelEntityRef(params.namespace, params.name);
    const job = await ctx.audited(
      req,
      { eventId: 'model-sync', meta: { modelRef: ref } },
      async () => {
        const model = await ctx.requireModel(params);
        requireNotOrphaned(model);
        const credentials = await ctx.authorize(
          req,
          modelHubSyncTriggerPermission,
          model.entityRef,
        );
        // a registered repo belongs to one model: the model syncs the repo
        // it holds, or claims the repo of its source when nobody holds it
        const own = await store.getHfRepoHolder({ modelId: model.id });
        const source = model.source;
        const sourceRepo = hfRepoOfSource(source);
        if (!own && !sourceRepo) {
          throw new ConflictError(
            `Model ${ref} has no Hugging Face source to sync from`,
          );
        }
        const repoId = own?.repoId ?? sourceRepo!;
        if (!own) {
          const holder = await store.getHfRepoHolder({ repoId });
          if (holder && holder.modelId !== model.id) {
            throw new ConflictError(
              `The Hugging Face repo ${holder.repoId} is registered as ${holder.modelRef}; ${ref} cannot sync it`,
            );
          }
        }
        const sourceRevision =
          source && typeof source === 'object' && 'huggingface' in source
            ? source.huggingface.revision
            : undefined;
        const active = await store.listJobs({
          offset: 0,
          limit: 1,
          modelId: model.id,
          type: 'huggingface-sync',
          state: ['queued', 'running'],
        });
        if (active.totalCount > 0) {
          throw new ConflictError(
            `A sync of ${ref} is already ${active.items[0].state} (job ${active.items[0].id})`,
          );
        }
        const created = await store.createJob({
          type: 'huggingface-sync',
          modelId: model.id,
          params: {
            repo: repoId,
            revision: body.revision ?? sourceRevision ?? 'main',
          },
          createdBy: principalRef(credentials),
        });
        return { result: created, credentials, meta: { jobId: created.id } };
      },
    );
    res.status(202).json(job);
  });
}
