export { ModelLineageCard } from './ModelLineageCard';
export type { ModelLineageCardProps } from './ModelLineageCard';
