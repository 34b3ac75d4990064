import {
  createComponentExtension,
  createPlugin,
} from '@backstage/core-plugin-api';
import { rootRouteRef } from './routes';

/**
 * The Model Hub frontend plugin, for apps on the legacy frontend system.
 * Apps on the new frontend system use the default export of
 * `@internal/plugin-model-hub/alpha` instead.
 *
 * @public
 */
export const modelHubPlugin = createPlugin({
  id: 'model-hub',
  routes: {
    root: rootRouteRef,
  },
});

/**
 * An entity card with the overview of a Model entity: description, type,
 * task, format, license, lifecycle, owner, system, source, base models,
 * datasets and tags. Put it on the entity page of `Model` entities, inside
 * an `EntitySwitch.Case if={isKind('model')}`.
 *
 * @public
 */
export const EntityModelOverviewCard = modelHubPlugin.provide(
  createComponentExtension({
    name: 'EntityModelOverviewCard',
    component: {
      lazy: () =>
        import('./components/ModelOverviewCard').then(m => m.ModelOverviewCard),
    },
  }),
);

/**
 * An entity card with the lineage of a Model entity: the models it was
 * derived from and the models derived from it. Put it on the entity page of
 * `Model` entities, inside an `EntitySwitch.Case if={isKind('model')}`.
 *
 * @public
 */
export const EntityModelLineageCard = modelHubPlugin.provide(
  createComponentExtension({
    name: 'EntityModelLineageCard',
    component: {
      lazy: () =>
        import('./components/ModelLineageCard').then(m => m.ModelLineageCard),
    },
  }),
);
