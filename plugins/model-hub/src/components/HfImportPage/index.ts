export { HfImportPage } from './HfImportPage';
