export { modelHubApiRef } from './ModelHubApi';
export type { ModelHubApi, ModelRef } from './ModelHubApi';
export { ModelHubClient } from './ModelHubClient';
export * from './types';
export * from './sourceTypes';
