import { Router } from 'express';
import { disabledApprovalRoutes } from '../../approvals';
import type { ApprovalsService } from '../../approvals/ApprovalsService';
import { assertDownloadAllowed } from '../../approvals/downloads';
import { addApprovalRoutes } from '../../approvals/router';
import type { CatalogModelSync } from '../../catalogSync/CatalogModelSync';
import { disabledCatalogSyncRoutes } from '../../catalogSync/feature';
import { addCatalogSyncRoutes } from '../../catalogSync/routes';
import { disabledHuggingFaceRoutes } from '../../huggingface/setup';
import { disabledLifecycleRoutes } from '../../lifecycle/feature';
import type { ModelLifecycleStore } from '../../lifecycle/ModelLifecycleStore';
import { addLifecycleRoutes } from '../../lifecycle/routes';
import { addDisabledMirrorRoutes } from '../../mirror';
import { RouterOptions } from '../../service/context';
import { ModelHubFeature, RouteExtension } from '../../service/feature';
import { createCoreRouter } from '../../service/router';
import { addDisabledTransferRoutes } from '../../transfer/routes';

/**
 * The plugin's router for tests: the core routes and the routes of the
 * features given; every feature left out answers with its disabled routes,
 * as in a plugin where it is off, so that the route table is the plugin's.
 */
export async function createRouter(
  options: Omit<RouterOptions, 'approvals' | 'downloadAuthorizer'> & {
    /** The approvals workflow (routes, active version, download policy). */
    approvals?: ApprovalsService;
    downloadAuthorizer?: RouterOptions['downloadAuthorizer'];
    lifecycle?: ModelLifecycleStore;
    catalogSync?: CatalogModelSync;
    /** The HF-compatible mirror (`/hf`, `/tokens`): `createMirror`'s feature. */
    mirror?: Pick<ModelHubFeature, 'routes'>;
    /** Air-gapped export and import: `createTransferRoutes`' feature. */
    transfer?: Pick<ModelHubFeature, 'routes'>;
    /** More routes: Hugging Face sync, entity feed, local scan, uploads. */
    extensions?: RouteExtension[];
  },
): Promise<Router> {
  const {
    lifecycle,
    catalogSync,
    mirror,
    transfer,
    extensions,
    approvals,
    ...core
  } = options;
  return createCoreRouter(
    {
      ...core,
      approvals,
      downloadAuthorizer: options.downloadAuthorizer ?? assertDownloadAllowed,
    },
    [
      ...(lifecycle
        ? [
            ((r, ctx) =>
              addLifecycleRoutes(r, ctx, lifecycle)) as RouteExtension,
          ]
        : disabledLifecycleRoutes),
      ...(catalogSync
        ? [
            ((r, ctx) =>
              addCatalogSyncRoutes(r, ctx, catalogSync)) as RouteExtension,
          ]
        : disabledCatalogSyncRoutes),
      ...(approvals
        ? [((r, ctx) => addApprovalRoutes(r, ctx, approvals)) as RouteExtension]
        : disabledApprovalRoutes),
      ...(mirror?.routes ?? [addDisabledMirrorRoutes]),
      ...(transfer?.routes ?? [addDisabledTransferRoutes]),
      ...(extensions ?? disabledHuggingFaceRoutes),
    ],
  );
}
