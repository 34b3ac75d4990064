/**
 * The Model Hub frontend plugin: entity cards for the `Model` entity kind
 * (apiVersion `model-hub.dev/v1alpha1`).
 *
 * This entry point is for apps on the legacy frontend system. Apps on the new
 * frontend system use `@model-hub/backstage-plugin-model-hub/alpha`.
 *
 * @packageDocumentation
 */

export {
  modelHubPlugin,
  EntityModelOverviewCard,
  EntityModelLineageCard,
  ModelHubPage,
  EntityModelVersionsContent,
} from './plugin';
export * from './api';
export { rootRouteRef as modelHubRootRouteRef } from './routes';
export { HubDashboard } from './components/HubDashboard';
export { ModelsTable } from './components/ModelsTable';
export type { ModelsTableFilters } from './components/ModelsTable';
export { UploadPage } from './components/UploadPage';
export type { UploadPageProps } from './components/UploadPage';
export { ApprovalsPage } from './components/ApprovalsPage';
export { JobsPage, JOBS_SIGNAL_CHANNEL } from './components/JobsPage';
export { HfImportPage } from './components/HfImportPage';
export { AuditPage } from './components/AuditPage';
export { LocalScanPage } from './components/LocalScanPage';
export { VersionActions, CommentThread } from './components/VersionActions';
export type { VersionActionId } from './components/VersionActions';
export { DriftBanner } from './components/DriftBanner';
export { SourcesPage, ModelSourceCard } from './components/SourcesPage';
export { FileBrowser } from './components/FileBrowser';
export type { FileBrowserProps } from './components/FileBrowser';
export { ModelCardView } from './components/ModelCardView';
export type { ModelCardViewProps } from './components/ModelCardView';
export { StatePill } from './components/StatePill';
export type { ModelHubPageProps } from './components/ModelHubPage';
export type { ModelOverviewCardProps } from './components/ModelOverviewCard';
export type { ModelLineageCardProps } from './components/ModelLineageCard';
export { isModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
export { ModelPickerFieldExtension } from './plugin';
export {
  ModelPicker,
  ModelPickerFieldSchema,
  modelPickerValidation,
} from './components/ModelPicker';
export type {
  ModelPickerProps,
  ModelPickerValue,
} from './components/ModelPicker';
export {
  ModelHubAccessTokensPage,
  ModelHubAccessTokensContent,
} from './plugin';
export { accessTokensRouteRef } from './components/AccessTokens/routes';
export type {
  AccessToken,
  CreatedAccessToken,
} from './components/AccessTokens/AccessTokensClient';
