export {
  catalogModuleModelHub,
  catalogModuleModelHub as default,
} from './catalogModuleModelHub';
