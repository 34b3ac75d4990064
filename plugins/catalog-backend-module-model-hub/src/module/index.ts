export { catalogModuleModelHub as default } from './catalogModuleModelHub';
