import { createTranslationRef } from '@backstage/frontend-plugin-api';

/**
 * The messages of the Model Hub frontend, nested per component.
 *
 * @alpha
 */
export const modelHubTranslationRef = createTranslationRef({
  id: 'model-hub',
  messages: {
    notAModel: {
      title: 'Not a Model',
      description:
        'This card shows entities of kind Model (apiVersion model-hub.dev/v1alpha1). {{entityRef}} is a {{kind}}.',
    },
    modelOverviewCard: {
      title: 'Model overview',
      noDescription: 'No description',
      fields: {
        description: 'Description',
        type: 'Type',
        task: 'Task',
        format: 'Format',
        license: 'License',
        lifecycle: 'Lifecycle',
        owner: 'Owner',
        system: 'System',
        source: 'Source',
        baseModels: 'Base models',
        datasets: 'Datasets',
        tags: 'Tags',
      },
      source: {
        upload: 'Upload',
        huggingFace: 'Hugging Face',
        revision: 'revision {{revision}}',
        unknown: 'Unknown',
      },
    },
    modelLineageCard: {
      title: 'Model lineage',
      derivedFrom: 'Derived from',
      derivations: 'Derived models',
      noBaseModels: 'This model is not derived from another model.',
      noDerivations: 'No model in the catalog is derived from this model.',
    },
  },
});
