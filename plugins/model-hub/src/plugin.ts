import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { ModelHubClient, modelHubApiRef } from './api';
import { createScaffolderFieldExtension } from '@backstage/plugin-scaffolder-react';
import { rootRouteRef } from './routes';
import { accessTokensRouteRef } from './components/AccessTokens/routes';
import {
  ModelPicker,
  ModelPickerFieldSchema,
  modelPickerValidation,
} from './components/ModelPicker';

/**
 * The Model Hub frontend plugin, for apps on the legacy frontend system.
 * Apps on the new frontend system use the default export of
 * `@model-hub/backstage-plugin-model-hub/alpha` instead.
 *
 * @public
 */
export const modelHubPlugin = createPlugin({
  id: 'model-hub',
  apis: [
    createApiFactory({
      api: modelHubApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new ModelHubClient(deps),
    }),
  ],
  routes: {
    root: rootRouteRef,
    accessTokens: accessTokensRouteRef,
  },
});

/**
 * The Model Hub page: dashboard, models, upload, approvals, jobs and
 * Hugging Face import as tabs. Mount it with
 * `<Route path="/model-hub" element={<ModelHubPage />} />`.
 *
 * @public
 */
export const ModelHubPage = modelHubPlugin.provide(
  createRoutableExtension({
    name: 'ModelHubPage',
    component: () =>
      import('./components/ModelHubPage').then(m => m.ModelHubPage),
    mountPoint: rootRouteRef,
  }),
);

/**
 * The Model Hub content of a Model entity page: versions with their states,
 * files, model card, checks, approval timeline and a "how to use" snippet.
 * Put it on a tab of the entity page of `Model` entities:
 * `<EntityLayout.Route path="/versions" title="Versions"><EntityModelVersionsContent /></EntityLayout.Route>`.
 *
 * @public
 */
export const EntityModelVersionsContent = modelHubPlugin.provide(
  createComponentExtension({
    name: 'EntityModelVersionsContent',
    component: {
      lazy: () =>
        import('./components/ModelVersionsContent').then(
          m => m.ModelVersionsContent,
        ),
    },
  }),
);

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

/**
 * The `ModelPicker` scaffolder field: picks an approved version of a model the
 * user may read, as `{ modelRef, version }`. Put it inside
 * `<ScaffolderFieldExtensions>` of the scaffolder page and use it in
 * templates with `ui:field: ModelPicker`.
 *
 * @public
 */
export const ModelPickerFieldExtension = modelHubPlugin.provide(
  createScaffolderFieldExtension({
    name: 'ModelPicker',
    component: ModelPicker,
    validation: modelPickerValidation,
    schema: ModelPickerFieldSchema.schema,
  }),
);

/**
 * The page of personal access tokens for Hugging Face clients of the Model
 * Hub mirror (`HF_TOKEN`): create (shown once), list, revoke. Mount it on a
 * route, e.g. `<Route path="/model-hub/access-tokens" element={<ModelHubAccessTokensPage />} />`.
 *
 * @public
 */
export const ModelHubAccessTokensPage = modelHubPlugin.provide(
  createRoutableExtension({
    name: 'ModelHubAccessTokensPage',
    component: () =>
      import('./components/AccessTokens').then(m => m.AccessTokensPage),
    mountPoint: accessTokensRouteRef,
  }),
);

/**
 * The access tokens of the Model Hub mirror as content, e.g. for a tab of
 * the user settings page (`<SettingsLayout.Route path="model-hub" title="Model Hub">`).
 *
 * @public
 */
export const ModelHubAccessTokensContent = modelHubPlugin.provide(
  createComponentExtension({
    name: 'ModelHubAccessTokensContent',
    component: {
      lazy: () =>
        import('./components/AccessTokens').then(m => m.AccessTokensContent),
    },
  }),
);
