export { createGpuProvisionAction, workloadName } from './provisionGpu';
export { createModelRegisterAction } from './registerModel';
