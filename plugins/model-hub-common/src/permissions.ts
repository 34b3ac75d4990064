import { createPermission } from '@backstage/plugin-permission-common';

/**
 * The resource type of the permissions that concern one model. Models are
 * catalog entities, so these permissions use the catalog's resource type:
 * a policy can decide them with the catalog's rules, for example "owners of
 * the model may upload" with `catalogConditions.isEntityOwner`.
 *
 * @public
 */
export const MODEL_HUB_MODEL_RESOURCE_TYPE = 'catalog-entity';

/**
 * Read a model: see it in lists, read its versions, files, reviews,
 * comments, diff, history, jobs and their logs, activity and statistics,
 * and its Hugging Face registration. A model the caller may not read is
 * hidden (404), as the catalog hides entities.
 *
 * @public
 */
export const modelHubModelReadPermission = createPermission({
  name: 'model-hub.model.read',
  attributes: { action: 'read' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Create a new model (register a Hugging Face repository, or an empty model
 * for uploads).
 *
 * @public
 */
export const modelHubModelCreatePermission = createPermission({
  name: 'model-hub.model.create',
  attributes: { action: 'create' },
});

/**
 * Create a new version of a model.
 *
 * @public
 */
export const modelHubVersionCreatePermission = createPermission({
  name: 'model-hub.version.create',
  attributes: { action: 'create' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Upload artifacts to a version of a model.
 *
 * @public
 */
export const modelHubArtifactUploadPermission = createPermission({
  name: 'model-hub.artifact.upload',
  attributes: { action: 'update' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Review a version of a model: comment, request changes.
 *
 * @public
 */
export const modelHubVersionReviewPermission = createPermission({
  name: 'model-hub.version.review',
  attributes: { action: 'update' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Approve, reject, deprecate or revoke a version of a model.
 *
 * @public
 */
export const modelHubVersionApprovePermission = createPermission({
  name: 'model-hub.version.approve',
  attributes: { action: 'update' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Download the artifacts of a model.
 *
 * @public
 */
export const modelHubArtifactDownloadPermission = createPermission({
  name: 'model-hub.artifact.download',
  attributes: { action: 'read' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Trigger a sync of a model from its upstream (e.g. Hugging Face).
 *
 * @public
 */
export const modelHubSyncTriggerPermission = createPermission({
  name: 'model-hub.sync.trigger',
  attributes: { action: 'update' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Deploy a model: apply the GPU workload manifests of one of its approved
 * versions to a cluster (`model-hub:gpu:provision` with `apply: true`).
 * Rendering the manifests (and dry runs) needs read access only.
 *
 * @public
 */
export const modelHubDeployPermission = createPermission({
  name: 'model-hub.deploy',
  attributes: { action: 'create' },
  resourceType: MODEL_HUB_MODEL_RESOURCE_TYPE,
});

/**
 * Administer Model Hub: waive checks, manage jobs of any model, garbage
 * collect the store.
 *
 * @public
 */
export const modelHubAdminPermission = createPermission({
  name: 'model-hub.admin',
  attributes: { action: 'update' },
});

/**
 * Read the hub's whole audit trail (`GET /audit`, its CSV export): who did
 * what to which model and when. Entries of models the caller may not read
 * stay hidden. `model-hub.admin` includes it.
 *
 * @public
 */
export const modelHubAuditReadPermission = createPermission({
  name: 'model-hub.audit.read',
  attributes: { action: 'read' },
});

/**
 * Export approved versions of models, with their approval evidence, into a
 * signed bundle for an air-gapped portal (`POST /transfer/export`). The
 * bundle holds the files, so the models' `model-hub.artifact.download` is
 * needed as well.
 *
 * @public
 */
export const modelHubExportPermission = createPermission({
  name: 'model-hub.export',
  attributes: { action: 'read' },
});

/**
 * Import a signed bundle of another portal (`POST /transfer/import`):
 * creates models and versions with the evidence of their approval.
 * `model-hub.admin` may import too.
 *
 * @public
 */
export const modelHubImportPermission = createPermission({
  name: 'model-hub.import',
  attributes: { action: 'create' },
});

/**
 * Every permission of Model Hub.
 *
 * @public
 */
export const modelHubPermissions = [
  modelHubModelReadPermission,
  modelHubModelCreatePermission,
  modelHubVersionCreatePermission,
  modelHubArtifactUploadPermission,
  modelHubVersionReviewPermission,
  modelHubVersionApprovePermission,
  modelHubArtifactDownloadPermission,
  modelHubSyncTriggerPermission,
  modelHubDeployPermission,
  modelHubAdminPermission,
  modelHubAuditReadPermission,
  modelHubExportPermission,
  modelHubImportPermission,
];
