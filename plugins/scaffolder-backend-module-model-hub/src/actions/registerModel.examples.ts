import { TemplateExample } from '@backstage/plugin-scaffolder-node';
import yaml from 'yaml';

/** Examples of `model-hub:model:register`; `registerModel.examples.test.ts` runs each. */
export const examples: TemplateExample[] = [
  {
    description: 'Register a model synced from a Hugging Face repository',
    example: yaml.stringify({
      steps: [
        {
          id: 'register-model',
          action: 'model-hub:model:register',
          name: 'Create the model in Model Hub',
          input: {
            name: 'mistral-7b-instruct',
            title: 'Mistral 7B Instruct',
            type: 'llm',
            task: 'text-generation',
            format: 'safetensors',
            license: 'apache-2.0',
            owner: 'group:default/ml-engineers',
            system: 'system:default/assistant-platform',
            huggingFaceRepo: 'mistralai/Mistral-7B-Instruct-v0.3',
            huggingFaceRevision: 'main',
            versionLabel: 'v0.3',
          },
        },
      ],
    }),
  },
  {
    description: 'Register an empty model whose weights are uploaded later',
    example: yaml.stringify({
      steps: [
        {
          id: 'register-model',
          action: 'model-hub:model:register',
          name: 'Create an upload model',
          input: {
            name: 'churn-predictor-v2',
            type: 'tabular',
            format: 'joblib',
            owner: 'ml-engineers',
            tags: ['churn', 'xgboost'],
            notes: 'Trained on the Q3 export',
          },
        },
      ],
    }),
  },
];
