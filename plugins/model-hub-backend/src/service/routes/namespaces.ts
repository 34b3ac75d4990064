import { Router } from 'express';
import { Knex } from 'knex';
import { whereModel } from '../../database/modelReadFilter';
import { RouteContext } from '../context';

/**
 * `GET /namespaces`: the namespaces of the models the caller may read,
 * with how many models each holds, for the namespace filter of the models
 * table. Signed-in callers.
 *
 * @internal
 */
export function addNamespaceRoutes(
  router: Router,
  ctx: RouteContext,
  db: Knex,
) {
  router.get('/namespaces', async (req, res) => {
    await ctx.credentials(req);
    const readable = await ctx.readCondition(req);
    const rows = await db('models')
      .where(b => whereModel(b, db, readable, 'models'))
      .select(db.raw('lower(namespace) as namespace'))
      .count({ count: '*' })
      .groupByRaw('lower(namespace)')
      .orderBy('namespace');
    res.json({
      items: rows.map((r: any) => ({
        namespace: r.namespace as string,
        count: Number(r.count),
      })),
    });
  });
}
