export { ModelOverviewCard } from './ModelOverviewCard';
export type { ModelOverviewCardProps } from './ModelOverviewCard';
