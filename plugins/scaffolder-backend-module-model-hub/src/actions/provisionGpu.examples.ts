import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

/** Examples of `model-hub:gpu:provision`; `provisionGpu.examples.test.ts` runs each. */
export const examples: TemplateExample[] = [
  {
    description:
      'Serve an approved version with vLLM, picking the GPU profile automatically',
    example: yaml.stringify({
      steps: [
        {
          id: 'provision',
          action: 'model-hub:gpu:provision',
          name: 'Render vLLM manifests',
          input: {
            modelRef: 'model:default/llama-3-8b-instruct',
            version: 'v1',
            runtime: 'vllm',
            gpuProfile: 'auto',
            replicas: 1,
            namespace: 'ml-serving',
            maxContextLength: 8192,
          },
        },
      ],
    }),
  },
  {
    description:
      'Serve with Text Generation Inference on a named profile, with 4 concurrent sequences',
    example: yaml.stringify({
      steps: [
        {
          id: 'provision',
          action: 'model-hub:gpu:provision',
          name: 'Render TGI manifests',
          input: {
            modelRef: 'model:default/llama-3-8b-instruct',
            version: 'v1',
            runtime: 'tgi',
            gpuProfile: 'a100-80gb',
            replicas: 2,
            namespace: 'ml-serving',
            maxContextLength: 4096,
            maxBatchSize: 4,
          },
        },
      ],
    }),
  },
  {
    description: 'Render a KServe InferenceService serving int8 weights',
    example: yaml.stringify({
      steps: [
        {
          id: 'provision',
          action: 'model-hub:gpu:provision',
          name: 'Render an InferenceService',
          input: {
            modelRef: 'model:default/llama-3-8b-instruct',
            version: 'v1',
            runtime: 'kserve',
            namespace: 'kserve-models',
            maxContextLength: 8192,
            dtype: 'int8',
          },
        },
      ],
    }),
  },
  {
    description:
      'Run a batch Job (its command is modelHub.gpu.deploy.commands.job) and apply it to the portal cluster named gpu-cluster, in a namespace modelHub.gpu.deploy.namespaces allows; needs model-hub.deploy on the model',
    example: yaml.stringify({
      steps: [
        {
          id: 'provision',
          action: 'model-hub:gpu:provision',
          name: 'Apply a batch job',
          input: {
            modelRef: 'model:default/llama-3-8b-instruct',
            version: 'v1',
            runtime: 'job',
            namespace: 'ml-batch',
            maxContextLength: 2048,
            apply: true,
            cluster: 'gpu-cluster',
          },
        },
      ],
    }),
  },
];
