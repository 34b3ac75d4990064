import { Config } from '@backstage/config';
import {
  loggedTask,
  ModelHubFeature,
  RouteExtension,
} from '../service/feature';
import { CatalogModelSync } from './CatalogModelSync';
import { readCatalogSyncConfig } from './config';
import { addCatalogSyncRoutes } from './routes';

/** The catalog sync routes of a router without it: 503. @internal */
export const disabledCatalogSyncRoutes: RouteExtension[] = [
  (router, ctx) => addCatalogSyncRoutes(router, ctx),
];

/**
 * Catalog and hub as one, as a feature: catalog-defined Models are
 * reconciled into hub rows on a schedule (`model-hub-catalog-sync`, global,
 * unless `modelHub.catalogSync.enabled` is false) and on the catalog
 * module's notifications (`POST /catalog-sync/entities`).
 *
 * @internal
 */
export function createCatalogSyncFeature(
  options: ConstructorParameters<typeof CatalogModelSync>[0] & {
    config: Config;
  },
): ModelHubFeature & { catalogSync: CatalogModelSync } {
  const { config, ...syncOptions } = options;
  const logger = options.logger;
  const catalogSync = new CatalogModelSync({
    ...syncOptions,
    logger: logger.child({ target: 'catalog-sync' }),
  });
  const settings = readCatalogSyncConfig(config);
  return {
    id: 'catalogSync',
    catalogSync,
    routes: [(router, ctx) => addCatalogSyncRoutes(router, ctx, catalogSync)],
    tasks: settings.enabled
      ? [
          {
            id: 'model-hub-catalog-sync',
            schedule: { scope: 'global', ...settings.schedule },
            fn: loggedTask(logger, 'Catalog reconcile', async () => {
              const result = await catalogSync.reconcile();
              logger.info(
                `Catalog reconcile: ${result.created} created, ${result.updated} updated, ${result.restored} restored, ${result.orphaned} orphaned, ${result.unchanged} unchanged`,
              );
            }),
          },
        ]
      : [],
  };
}
