/**
 * A catalog backend module that adds the `Model` kind of Model Hub to the
 * Backstage catalog: it validates Model entities and emits their relations
 * (owner, system, datasets and base models, in both directions).
 *
 * @packageDocumentation
 */

export { catalogModuleModelHub as default } from './module';
export { ModelEntityProcessor } from './processor/ModelEntityProcessor';
export { ModelHubSyncProcessor } from './processor/ModelHubSyncProcessor';
export {
  ModelHubEntityProvider,
  HUGGINGFACE_REPO_ID_ANNOTATION,
  filterCatalogTags,
  sanitizeEntityName,
  toModelEntity,
} from './providers/ModelHubEntityProvider';
export type { ModelHubFeedItem } from './providers/ModelHubEntityProvider';
export { ProviderCursorStore } from './providers/ProviderCursorStore';
export {
  DEFAULT_PROVIDER_ID,
  readModelHubEntityProviderConfigs,
} from './providers/ModelHubEntityProviderConfig';
export type { ModelHubEntityProviderConfig } from './providers/ModelHubEntityProviderConfig';
