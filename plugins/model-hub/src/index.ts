/**
 * The Model Hub frontend plugin: entity cards for the `Model` entity kind
 * (apiVersion `model-hub.dev/v1alpha1`).
 *
 * This entry point is for apps on the legacy frontend system. Apps on the new
 * frontend system use `@internal/plugin-model-hub/alpha`.
 *
 * @packageDocumentation
 */

export {
  modelHubPlugin,
  EntityModelOverviewCard,
  EntityModelLineageCard,
} from './plugin';
export type { ModelOverviewCardProps } from './components/ModelOverviewCard';
export type { ModelLineageCardProps } from './components/ModelLineageCard';
export { isModelEntity } from '@internal/plugin-model-hub-common';
