export { SourcesPage } from './SourcesPage';
export { ModelSourceCard } from './ModelSourceCard';
