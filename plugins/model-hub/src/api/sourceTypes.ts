// The model source shapes of the REST API live in -common.
export type {
  CreateSourceRequest,
  HubSource,
  HubSourceReference,
  HubSourceStatus,
} from '@model-hub/backstage-plugin-model-hub-common';
