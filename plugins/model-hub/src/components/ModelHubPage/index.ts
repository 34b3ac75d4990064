export { ModelHubPage } from './ModelHubPage';
export type { ModelHubPageProps } from './ModelHubPage';
