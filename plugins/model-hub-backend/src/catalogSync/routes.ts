import { NotAllowedError, ServiceUnavailableError } from '@backstage/errors';
import { Request, Router } from 'express';
import { z } from 'zod';
import { RouteContext } from '../service/context';
import type { CatalogModelSync } from './CatalogModelSync';
import { jsonBody } from '../service/jsonBody';
import { parseInput } from '../service/validation';

// up to 100 entities
const json = jsonBody('2mb');

const entitiesBody = z.strictObject({
  entities: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        metadata: z.looseObject({ name: z.string() }),
        spec: z.looseObject({}).optional(),
      }),
    )
    .min(1)
    .max(100),
});

/** The plugin that may notify the hub of processed catalog entities. */
const CATALOG_SUBJECT = 'plugin:catalog';

/**
 * `GET /catalog-sync`: the state of the catalog reconcile.
 * `POST /catalog-sync/entities`: Model entities the catalog has just
 * processed (sent by the catalog module), applied to their hub rows before
 * the next scheduled pass; only the catalog's own service credentials.
 *
 * @internal
 */
export function addCatalogSyncRoutes(
  router: Router,
  ctx: RouteContext,
  catalogSync?: CatalogModelSync,
) {
  const sync = () => {
    if (!catalogSync) {
      throw new ServiceUnavailableError('The catalog sync is not set up');
    }
    return catalogSync;
  };

  router.get('/catalog-sync', async (req, res) => {
    await ctx.credentials(req);
    res.json(await sync().getState());
  });

  // the caller is checked before the body is parsed: only the catalog's
  // bodies are read
  const catalogOnly = async (req: Request) => {
    const credentials = await ctx.options.httpAuth.credentials(req, {
      allow: ['service'],
    });
    if (credentials.principal.subject !== CATALOG_SUBJECT) {
      throw new NotAllowedError(
        'Only the catalog may report processed catalog entities',
      );
    }
    return 'next';
  };

  router.post('/catalog-sync/entities', catalogOnly, json, async (req, res) => {
    const body = parseInput(entitiesBody, req.body, 'catalog entities');
    const results = await sync().applyEntities(
      body.entities as any,
      new Date(),
      { notified: true },
    );
    res.json({ results });
  });
}
