import { InputError, NotFoundError } from '@backstage/errors';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { Request, Router } from 'express';
import { z } from 'zod';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { RouteContext, principalRef } from '../service/context';
import { BODY_LIMITS, jsonBody } from '../service/jsonBody';
import { parseInput } from '../service/validation';
import {
  assertTokenRef,
  normalizeEndpoint,
  SourceDefinition,
} from './config';
import { SourceRegistry } from './SourceRegistry';
import { SourceStatusChecker } from './SourceStatusChecker';
import { SourceStatus, SourceStore, sourceProblem } from './SourceStore';

const json = jsonBody(BODY_LIMITS.small);

const nameParams = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a source name'),
});
const modelParams = z.object({
  namespace: z.string().min(1).max(255),
  name: z.string().min(1).max(255),
});
const pageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const globs = z.array(z.string().min(1).max(255)).max(100).default([]);
const createBody = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{0,62}$/,
      'must be lower-case letters, digits and dashes (at most 63)',
    ),
  kind: z.literal('huggingface', {
    message:
      'must be huggingface (local sources come from the config: a folder of the server is not chosen over the API)',
  }),
  endpoint: z.string().min(1).max(1024),
  tokenRef: z.string().min(1).max(255).optional(),
  include: globs,
  exclude: globs,
  allowedOrganizations: z
    .array(z.string().regex(/^[A-Za-z0-9][\w.-]{0,95}$/))
    .max(500)
    .default([]),
  namespace: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a catalog namespace')
    .optional(),
  syncMinutes: z.number().int().min(5).max(10_080).default(60),
});

/** A source as the API shows it: never a token; the reference only to admins. @public */
export type SourceView = {
  name: string;
  kind: string;
  origin: 'config' | 'runtime';
  default: boolean;
  endpoint?: string;
  root?: string;
  namespace: string;
  include: string[];
  exclude: string[];
  allowedOrganizations: string[];
  schedule: { frequency: unknown };
  /** Whether the source authenticates (its token reference resolves). */
  hasToken: boolean;
  /** Admins only: where the token comes from (`env:NAME`, `config:...`). */
  tokenRef?: string;
  status: SourceStatus;
  /** What is wrong with the source, for its models' pages. */
  problem?: string;
  references: { models: number; versions: number };
  createdBy?: string;
  createdAt?: string;
};

/**
 * The routes of model sources: the list and each source (everyone signed
 * in; without secrets), the models that came from a source and the source
 * of a model (the models the caller may read), and, for `model-hub.admin`,
 * adding and removing run-time sources and checking one now. Changes are
 * audited.
 *
 * @internal
 */
export function addSourceRoutes(
  router: Router,
  ctx: RouteContext,
  deps: {
    registry: SourceRegistry;
    sourceStore: SourceStore;
    checker: SourceStatusChecker;
  },
) {
  const { registry, sourceStore, checker } = deps;

  async function views(req: Request, only?: string): Promise<SourceView[]> {
    const isAdmin = await ctx.isAllowed(req, modelHubAdminPermission);
    const [statuses, refs] = await Promise.all([
      sourceStore.getStatuses(),
      sourceStore.countReferences(),
    ]);
    const first = registry.defaultHubSource()?.name;
    return registry
      .list()
      .filter(s => !only || s.name === only)
      .map((s: SourceDefinition) => {
        const status = statuses.get(s.name) ?? { credentials: 'unknown' as const };
        return {
          name: s.name,
          kind: s.kind,
          origin: s.origin,
          default: s.name === first,
          ...(s.endpoint && { endpoint: s.endpoint }),
          ...(s.root && isAdmin && { root: s.root }),
          namespace: s.namespace,
          include: s.include,
          exclude: s.exclude,
          allowedOrganizations: s.allowedOrganizations,
          schedule: { frequency: s.schedule.frequency },
          hasToken: registry.hasToken(s),
          ...(isAdmin && s.tokenRef && { tokenRef: s.tokenRef }),
          status,
          problem: sourceProblem(status),
          references: refs.get(s.name) ?? { models: 0, versions: 0 },
          ...(s.createdBy && { createdBy: s.createdBy }),
          ...(s.createdAt && { createdAt: s.createdAt }),
        };
      });
  }

  async function requireSource(req: Request): Promise<SourceView> {
    const { name } = parseInput(nameParams, req.params, 'source');
    if (!registry.get(name)) {
      await registry.load();
    }
    const [view] = await views(req, name);
    if (!view) {
      throw new NotFoundError(`The model source ${name} is not configured`);
    }
    return view;
  }

  router.get('/sources', async (req, res) => {
    await ctx.credentials(req);
    await registry.load();
    const items = await views(req);
    res.json({ items, totalCount: items.length });
  });

  router.post('/sources', json, async (req, res) => {
    const body = parseInput(createBody, req.body, 'source');
    const view = await ctx.audited(
      req,
      {
        eventId: 'source-create',
        severityLevel: 'high',
        meta: {
          source: body.name,
          endpoint: body.endpoint,
          tokenRef: body.tokenRef ?? null,
        },
      },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        const endpoint = normalizeEndpoint(body.endpoint, 'endpoint');
        if (body.tokenRef) {
          assertTokenRef(body.tokenRef);
        }
        await registry.load();
        await registry.add({
          name: body.name,
          kind: body.kind,
          endpoint,
          tokenRef: body.tokenRef,
          include: body.include,
          exclude: body.exclude,
          allowedOrganizations: body.allowedOrganizations.map(o =>
            o.toLocaleLowerCase('en-US'),
          ),
          namespace: body.namespace ?? body.name,
          schedule: {
            frequency: { minutes: body.syncMinutes },
            timeout: { minutes: 30 },
          },
          origin: 'runtime',
          createdBy: principalRef(credentials),
        });
        // its first status, so that the page shows it at once
        await checker.check(body.name).catch(() => undefined);
        const [created] = await views(req, body.name);
        return { result: created, credentials };
      },
    );
    res.status(201).json(view);
  });

  router.get('/sources/:name', async (req, res) => {
    await ctx.credentials(req);
    res.json(await requireSource(req));
  });

  router.delete('/sources/:name', async (req, res) => {
    const { name } = parseInput(nameParams, req.params, 'source');
    await ctx.audited(
      req,
      { eventId: 'source-delete', severityLevel: 'high', meta: { source: name } },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        await registry.load();
        await registry.remove(name);
        return { result: undefined, credentials };
      },
    );
    res.status(204).end();
  });

  router.post('/sources/:name/check', async (req, res) => {
    const { name } = parseInput(nameParams, req.params, 'source');
    const view = await ctx.audited(
      req,
      { eventId: 'source-check', severityLevel: 'low', meta: { source: name } },
      async () => {
        const credentials = await ctx.authorize(req, modelHubAdminPermission);
        const source = await requireSource(req);
        const status = await checker.check(source.name);
        return {
          result: (await views(req, name))[0],
          credentials,
          meta: { problem: sourceProblem(status) ?? null },
        };
      },
    );
    res.json(view);
  });

  router.get('/sources/:name/models', async (req, res) => {
    await ctx.credentials(req);
    const source = await requireSource(req);
    const q = parseInput(pageQuery, req.query, 'query');
    const { items, totalCount } = await sourceStore.listReferences({
      source: source.name,
      ...q,
      readable: await ctx.readCondition(req),
    });
    res.json({ items, totalCount, offset: q.offset, limit: q.limit });
  });

  router.get('/sources/of-model/:namespace/:name', async (req, res) => {
    const p = parseInput(modelParams, req.params, 'model');
    const ref = modelEntityRef(p.namespace, p.name);
    await ctx.assertReadable(req, ref);
    const model = await ctx.store.getModel({ entityRef: ref });
    if (!model) {
      throw new NotFoundError(`Model ${ref} not found`);
    }
    const name = await sourceStore.sourceOfModel(model.id);
    if (!name) {
      throw new NotFoundError(`Model ${ref} did not come from a model source`);
    }
    if (!registry.get(name)) {
      await registry.load();
    }
    const [view] = await views(req, name);
    if (!view) {
      // the source was removed from the config: the model still names it
      res.json({
        name,
        configured: false,
        problem: `the source ${name} is no longer configured`,
      });
      return;
    }
    res.json({ ...view, configured: true });
  });
}

/** The routes {@link addSourceRoutes} adds. @internal */
export const SOURCE_ROUTES = [
  ['get', '/sources'],
  ['post', '/sources'],
  ['get', '/sources/:name'],
  ['delete', '/sources/:name'],
  ['post', '/sources/:name/check'],
  ['get', '/sources/:name/models'],
  ['get', '/sources/of-model/:namespace/:name'],
] as const;

/** Throws an `InputError` naming the sources when a name is unknown. @internal */
export function assertKnownSource(registry: SourceRegistry, name: string | undefined) {
  if (name && !registry.get(name)) {
    throw new InputError(
      `Unknown model source '${name}'; configured: ${registry
        .list()
        .map(s => s.name)
        .join(', ')}`,
    );
  }
}
