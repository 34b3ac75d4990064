import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ConflictError,
  NotAllowedError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  modelHubAdminPermission,
  modelHubVersionCreatePermission,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import { z } from 'zod';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { HubModel } from '../database/types';
import { RouteContext } from '../service/context';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import {
  createModelBody,
  modelParams,
  parseInput,
  versionParams,
} from '../service/validation';
import { ModelLifecycleStore } from './ModelLifecycleStore';

const json = jsonBody(BODY_LIMITS.text);

/** Version states the model's owners may delete; admins delete any. */
export const OWNER_DELETABLE_STATES: readonly VersionState[] = [
  'draft',
  'rejected',
];

const ALL_STATES: readonly VersionState[] = [
  'draft',
  'in_review',
  'approved',
  'changes_requested',
  'rejected',
  'deprecated',
  'archived',
];

const systemRef = z
  .string()
  .min(1)
  .max(255)
  .transform((value, ctx) => {
    try {
      return stringifyEntityRef(
        parseEntityRef(value, {
          defaultKind: 'system',
          defaultNamespace: 'default',
        }),
      ).toLocaleLowerCase('en-US');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `invalid entity ref: ${e}` });
      return z.NEVER;
    }
  });

const shape = createModelBody.shape;

/** The body of `PATCH /models/{ns}/{name}`. @internal */
export const patchModelBody = z
  .strictObject({
    title: shape.title.unwrap().nullable().optional(),
    description: shape.description.unwrap().nullable().optional(),
    type: shape.type.optional(),
    task: shape.task.unwrap().nullable().optional(),
    format: shape.format.unwrap().nullable().optional(),
    license: shape.license.unwrap().nullable().optional(),
    lifecycle: z.string().min(1).max(64).optional(),
    owner: shape.owner.optional(),
    system: systemRef.nullable().optional(),
    tags: shape.tags.unwrap().optional(),
    /** The model's `updatedAt` as read; 409 when it changed since. */
    expectedUpdatedAt: z.iso.datetime().optional(),
  })
  .refine(body => Object.keys(body).some(k => k !== 'expectedUpdatedAt'), {
    message: 'at least one field to change is required',
  });

/**
 * Delete and edit routes:
 *
 * - `DELETE /models/{ns}/{name}/versions/{label}`: the model's owners
 *   (`model-hub.version.create` on it) delete drafts and rejected versions;
 *   admins (`model-hub.admin`) any version. Blob references are released.
 * - `DELETE /models/{ns}/{name}`: admins delete a model with its versions,
 *   files and jobs; a model defined in the catalog only once it is orphaned
 *   (removed from the catalog), since the catalog would bring it back.
 * - `PATCH /models/{ns}/{name}`: metadata of models created through the API
 *   (`model-hub.version.create` on the model); catalog-defined models are
 *   edited in their catalog YAML.
 *
 * @internal
 */
export function addLifecycleRoutes(
  router: Router,
  ctx: RouteContext,
  lifecycleStore?: ModelLifecycleStore,
) {
  const lifecycle = (): ModelLifecycleStore => {
    const store = lifecycleStore;
    if (!store) {
      throw new ServiceUnavailableError(
        'Deleting and editing models is not set up',
      );
    }
    return store;
  };

  const ownsOrAdmin = async (req: Request, owner: string) => {
    const credentials = await ctx.credentials(req);
    if (!ctx.options.auth.isPrincipal(credentials, 'user')) {
      return true;
    }
    const { ownershipEntityRefs } = await ctx.options.userInfo.getUserInfo(
      credentials,
    );
    return (
      ownershipEntityRefs
        .map(r => r.toLocaleLowerCase('en-US'))
        .includes(owner) || (await ctx.isAllowed(req, modelHubAdminPermission))
    );
  };

  router.delete(
    '/models/:namespace/:name/versions/:label',
    async (req, res) => {
      const params = parseInput(versionParams, req.params, 'version reference');
      const ref = modelEntityRef(params.namespace, params.name);
      await ctx.audited(
        req,
        {
          eventId: 'version-delete',
          severityLevel: 'high',
          meta: { modelRef: ref, versionLabel: params.label },
        },
        async () => {
          const store = lifecycle();
          const model = await ctx.requireModel(params);
          const version = await ctx.requireVersion(model, params.label);
          const admin = await ctx.isAllowed(req, modelHubAdminPermission);
          let credentials;
          if (admin) {
            credentials = await ctx.credentials(req);
          } else {
            credentials = await ctx.authorize(
              req,
              modelHubVersionCreatePermission,
              model.entityRef,
            );
            if (model.orphanedAt) {
              throw new ConflictError(
                `Model ${ref} was removed from the catalog and is read-only; an administrator may delete it`,
              );
            }
            if (!OWNER_DELETABLE_STATES.includes(version.state)) {
              throw new ConflictError(
                `Version ${version.label} is ${version.state}; only draft and rejected versions can be deleted by their owners (administrators delete any)`,
              );
            }
          }
          const released = await store.deleteVersion({
            versionId: version.id,
            states: admin ? ALL_STATES : OWNER_DELETABLE_STATES,
          });
          return {
            result: undefined,
            credentials,
            meta: { state: version.state, ...released },
          };
        },
      );
      res.status(204).end();
    },
  );

  router.delete('/models/:namespace/:name', async (req, res) => {
    const params = parseInput(modelParams, req.params, 'model reference');
    const ref = modelEntityRef(params.namespace, params.name);
    await ctx.audited(
      req,
      {
        eventId: 'model-delete',
        severityLevel: 'high',
        meta: { modelRef: ref },
      },
      async () => {
        const store = lifecycle();
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        const model = await ctx.requireModel(params);
        if (model.origin === 'catalog' && !model.orphanedAt) {
          throw new ConflictError(
            `Model ${ref} is defined in the catalog; remove it from the catalog first (it is then orphaned here and can be deleted)`,
          );
        }
        const deleted = await store.deleteModel({
          modelId: model.id,
          entityRef: model.entityRef,
        });
        return { result: undefined, credentials, meta: deleted };
      },
    );
    res.status(204).end();
  });

  router.patch('/models/:namespace/:name', json, async (req, res) => {
    const params = parseInput(modelParams, req.params, 'model reference');
    const body = parseInput(patchModelBody, req.body, 'model');
    const ref = modelEntityRef(params.namespace, params.name);
    const { expectedUpdatedAt, ...patch } = body;
    const model = await ctx.audited(
      req,
      {
        eventId: 'model-update',
        meta: { modelRef: ref, fields: Object.keys(patch) },
      },
      async (): Promise<{
        result: HubModel;
        credentials: Awaited<ReturnType<typeof ctx.credentials>>;
      }> => {
        const store = lifecycle();
        const current = await ctx.requireModel(params);
        const credentials = await ctx.authorize(
          req,
          modelHubVersionCreatePermission,
          current.entityRef,
        );
        if (current.origin === 'catalog') {
          throw new ConflictError(
            `Model ${ref} is defined in the catalog; edit its catalog YAML instead`,
          );
        }
        if (
          patch.owner &&
          patch.owner !== current.owner &&
          !(await ownsOrAdmin(req, patch.owner))
        ) {
          throw new NotAllowedError(
            `You can only give models to yourself or one of your groups, not ${patch.owner}`,
          );
        }
        await store.updateModel({
          modelId: current.id,
          patch,
          expectedUpdatedAt,
        });
        return {
          result: (await ctx.store.getModel({ entityRef: ref }))!,
          credentials,
        };
      },
    );
    res.json(model);
  });
}
