/**
 * The Model Hub frontend plugin for apps on the new frontend system.
 *
 * @packageDocumentation
 */

import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
  SubPageBlueprint,
} from '@backstage/frontend-plugin-api';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import StorageIcon from '@material-ui/icons/Storage';
import { ModelHubClient, modelHubApiRef } from './api';
import { HUB_PATHS } from './lib/hooks';
import { FormFieldBlueprint } from '@backstage/plugin-scaffolder-react/alpha';
import { rootRouteRef } from './routes';
import { accessTokensRouteRef } from './components/AccessTokens/routes';

/**
 * The client of the Model Hub backend. Its id is `api:model-hub`.
 *
 * @alpha
 */
export const modelHubApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: modelHubApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new ModelHubClient(deps),
    }),
});

/**
 * The Model Hub page at `/model-hub`, with a nav item; its tabs are the
 * sub-pages below. Its id is `page:model-hub`.
 *
 * @alpha
 */
export const modelHubPage = PageBlueprint.make({
  params: {
    path: '/model-hub',
    routeRef: rootRouteRef,
    title: 'Model Hub',
    icon: <StorageIcon fontSize="inherit" />,
  },
});

function hubSubPage(
  name: keyof typeof HUB_PATHS,
  title: string,
  loader: () => Promise<JSX.Element>,
) {
  return SubPageBlueprint.make({
    attachTo: { id: 'page:model-hub', input: 'pages' },
    name,
    params: { path: HUB_PATHS[name], title, loader },
  });
}

/**
 * The hub dashboard, `sub-page:model-hub/overview`.
 *
 * @alpha
 */
export const modelHubOverviewSubPage = hubSubPage('overview', 'Overview', () =>
  import('./components/HubDashboard').then(m => <m.HubDashboard />),
);

/**
 * The models table, `sub-page:model-hub/models`.
 *
 * @alpha
 */
export const modelHubModelsSubPage = hubSubPage('models', 'Models', () =>
  import('./components/ModelsTable').then(m => <m.ModelsTable />),
);

/**
 * The upload page, `sub-page:model-hub/upload`.
 *
 * @alpha
 */
export const modelHubUploadSubPage = hubSubPage('upload', 'Upload', () =>
  import('./components/UploadPage').then(m => <m.UploadPage />),
);

/**
 * The approvals queue, `sub-page:model-hub/approvals`.
 *
 * @alpha
 */
export const modelHubApprovalsSubPage = hubSubPage(
  'approvals',
  'Approvals',
  () => import('./components/ApprovalsPage').then(m => <m.ApprovalsPage />),
);

/**
 * The jobs monitor, `sub-page:model-hub/jobs`.
 *
 * @alpha
 */
export const modelHubJobsSubPage = hubSubPage('jobs', 'Jobs', () =>
  import('./components/JobsPage').then(m => <m.JobsPage />),
);

/**
 * The Hugging Face import page, `sub-page:model-hub/import`.
 *
 * @alpha
 */
export const modelHubImportSubPage = hubSubPage(
  'import',
  'Import from Hugging Face',
  () => import('./components/HfImportPage').then(m => <m.HfImportPage />),
);

/**
 * The model sources (upstreams, their status and the models they hold),
 * `sub-page:model-hub/sources`.
 *
 * @alpha
 */
export const modelHubSourcesSubPage = hubSubPage('sources', 'Sources', () =>
  import('./components/SourcesPage').then(m => <m.SourcesPage />),
);

/**
 * The audit trail (search and CSV export, for audit readers and admins),
 * `sub-page:model-hub/audit`.
 *
 * @alpha
 */
export const modelHubAuditSubPage = hubSubPage('audit', 'Audit', () =>
  import('./components/AuditPage').then(m => <m.AuditPage />),
);

/**
 * The local scan job (admins), `sub-page:model-hub/scan`.
 *
 * @alpha
 */
export const modelHubScanSubPage = hubSubPage('scan', 'Local scan', () =>
  import('./components/LocalScanPage').then(m => <m.LocalScanPage />),
);

/**
 * The "Versions" tab of Model entity pages: versions, files, model card,
 * checks, approval timeline and a "how to use" snippet. Its id is
 * `entity-content:model-hub/versions`.
 *
 * @alpha
 */
export const entityModelVersionsContent = EntityContentBlueprint.make({
  name: 'versions',
  params: {
    path: 'versions',
    title: 'Versions',
    group: 'deployment',
    filter: { kind: 'model' },
    loader: () =>
      import('./components/ModelVersionsContent').then(m => (
        <m.ModelVersionsContent />
      )),
  },
});

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
 * The `ModelPicker` scaffolder field (an approved model version the user may
 * read). Its id is `scaffolder-form-field:model-hub/model-picker`.
 *
 * @alpha
 */
export const modelPickerFormField = FormFieldBlueprint.make({
  name: 'model-picker',
  params: {
    field: () =>
      import('./components/ModelPicker').then(m => m.modelPickerFormField),
  },
});

/**
 * The page of personal access tokens for Hugging Face clients of the Model
 * Hub mirror, at `/model-hub/access-tokens`. Its id is
 * `page:model-hub/access-tokens`.
 *
 * @alpha
 */
export const accessTokensPage = PageBlueprint.make({
  name: 'access-tokens',
  params: {
    path: '/model-hub/access-tokens',
    title: 'Access tokens',
    routeRef: accessTokensRouteRef,
    loader: () =>
      import('./components/AccessTokens').then(m => <m.AccessTokensPage />),
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
  icon: <StorageIcon fontSize="inherit" />,
  routes: {
    root: rootRouteRef,
    accessTokens: accessTokensRouteRef,
  },
  extensions: [
    modelHubApi,
    modelHubPage,
    modelHubOverviewSubPage,
    modelHubModelsSubPage,
    modelHubUploadSubPage,
    modelHubApprovalsSubPage,
    modelHubJobsSubPage,
    modelHubImportSubPage,
    modelHubAuditSubPage,
    modelHubScanSubPage,
    modelHubSourcesSubPage,
    entityModelVersionsContent,
    accessTokensPage,
    entityModelOverviewCard,
    entityModelLineageCard,
    modelPickerFormField,
  ],
});

export { modelHubTranslationRef } from './translation';
