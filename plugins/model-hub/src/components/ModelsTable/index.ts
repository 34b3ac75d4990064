export { ModelsTable } from './ModelsTable';
export type { ModelsTableFilters } from './ModelsTable';
