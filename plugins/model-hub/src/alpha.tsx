/**
 * The Model Hub frontend plugin for apps on the new frontend system.
 *
 * @packageDocumentation
 */

import { createFrontendPlugin } from '@backstage/frontend-plugin-api';
import { EntityCardBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { rootRouteRef } from './routes';

/**
 * The overview card of a Model entity, shown on the overview tab of the
 * entity page of `Model` entities. Its id is
 * `entity-card:model-hub/model-overview`.
 *
 * @alpha
 */
export const entityModelOverviewCard = EntityCardBlueprint.make({
  name: 'model-overview',
  params: {
    type: 'info',
    filter: { kind: 'model' },
    loader: () =>
      import('./components/ModelOverviewCard').then(m => (
        <m.ModelOverviewCard />
      )),
  },
});

/**
 * The lineage card of a Model entity (the models it was derived from and the
 * models derived from it), shown on the overview tab of the entity page of
 * `Model` entities. Its id is `entity-card:model-hub/model-lineage`.
 *
 * @alpha
 */
export const entityModelLineageCard = EntityCardBlueprint.make({
  name: 'model-lineage',
  params: {
    type: 'content',
    filter: { kind: 'model' },
    loader: () =>
      import('./components/ModelLineageCard').then(m => <m.ModelLineageCard />),
  },
});

/**
 * The Model Hub frontend plugin for the new frontend system.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'model-hub',
  title: 'Model Hub',
  routes: {
    root: rootRouteRef,
  },
  extensions: [entityModelOverviewCard, entityModelLineageCard],
});

export { modelHubTranslationRef } from './translation';
