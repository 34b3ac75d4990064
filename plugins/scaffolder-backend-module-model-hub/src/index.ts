/**
 * Scaffolder actions of Model Hub: `model-hub:model:register` and
 * `model-hub:gpu:provision`.
 *
 * @packageDocumentation
 */

export * from './actions';
export { scaffolderModuleModelHub as default } from './module';
export type {
  ModelHubClient,
  HubModel,
  HubVersion,
  HubVersionState,
  HubFile,
  HubCheck,
  ModelRefParts,
  CreateModelRequest,
  CreateVersionRequest,
} from './lib/ModelHubClient';
export { DefaultModelHubClient } from './lib/ModelHubClient';
export type {
  GpuConfig,
  GpuProfile,
  KubernetesCluster,
  Runtime,
  Toleration,
} from './lib/config';
export { readGpuConfig, readKubernetesClusters } from './lib/config';
export type {
  GpuMemoryEstimate,
  Dtype,
  ModelArchitecture,
} from './lib/estimateGpuMemory';
export { estimateGpuMemory } from './lib/estimateGpuMemory';
