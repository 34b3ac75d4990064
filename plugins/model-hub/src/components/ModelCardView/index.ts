export { ModelCardView, splitFrontMatter } from './ModelCardView';
export type { ModelCardViewProps } from './ModelCardView';
