import { Entity } from '@backstage/catalog-model';
import { renderInTestApp } from '@backstage/test-utils';
import {
  EntityProvider,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import { ModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
import { screen, within } from '@testing-library/react';
import { huggingFaceRepoUrl, ModelOverviewCard } from './ModelOverviewCard';

const fullModel: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: {
    name: 'llama-3-8b-instruct-ft',
    namespace: 'default',
    title: 'Llama 3 8B Instruct, support fine-tune',
    description: 'Llama 3 fine-tuned on support tickets.',
  },
  spec: {
    type: 'llm',
    lifecycle: 'production',
    owner: 'group:default/ml-engineers',
    system: 'assistant-platform',
    task: 'text-generation',
    format: 'safetensors',
    license: 'llama3',
    source: {
      huggingface: {
        repo: 'acme/llama-3-8b-support',
        revision: 'v1.2',
      },
    },
    baseModels: ['llama-3-8b-instruct', 'model:research/mistral-7b'],
    datasets: ['support-tickets-2024'],
    tags: ['chat', 'support'],
  },
};

const minimalModel: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'churn-classifier' },
  spec: {
    type: 'tabular',
    lifecycle: 'experimental',
    owner: 'data-science',
  },
};

const component: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'checkout', namespace: 'default' },
  spec: { type: 'service', lifecycle: 'production', owner: 'team-a' },
};

async function renderCard(entity: Entity) {
  return renderInTestApp(
    <EntityProvider entity={entity}>
      <ModelOverviewCard />
    </EntityProvider>,
    {
      mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef },
    },
  );
}

function fieldOf(label: string): HTMLElement {
  const heading = screen.getByRole('heading', { name: label });
  return heading.parentElement!;
}

describe('ModelOverviewCard', () => {
  it('shows every field of a full Model', async () => {
    await renderCard(fullModel);

    expect(screen.getByText('Model overview')).toBeInTheDocument();
    expect(
      screen.getByText('Llama 3 fine-tuned on support tickets.'),
    ).toBeInTheDocument();
    expect(within(fieldOf('Type')).getByText('llm')).toBeInTheDocument();
    expect(
      within(fieldOf('Task')).getByText('text-generation'),
    ).toBeInTheDocument();
    expect(
      within(fieldOf('Format')).getByText('safetensors'),
    ).toBeInTheDocument();
    expect(within(fieldOf('License')).getByText('llama3')).toBeInTheDocument();
    expect(
      within(fieldOf('Lifecycle')).getByText('production'),
    ).toBeInTheDocument();

    expect(
      within(fieldOf('Owner')).getByRole('link', { name: /ml-engineers/ }),
    ).toHaveAttribute('href', '/catalog/default/group/ml-engineers');
    expect(
      within(fieldOf('System')).getByRole('link', {
        name: /assistant-platform/,
      }),
    ).toHaveAttribute('href', '/catalog/default/system/assistant-platform');

    const source = fieldOf('Source');
    expect(source).toHaveTextContent('Hugging Face: acme/llama-3-8b-support');
    expect(source).toHaveTextContent('(revision v1.2)');
    expect(
      within(source).getByRole('link', { name: /acme\/llama-3-8b-support/ }),
    ).toHaveAttribute('href', 'https://huggingface.co/acme/llama-3-8b-support');

    const baseModels = fieldOf('Base models');
    expect(
      within(baseModels).getByRole('link', { name: /llama-3-8b-instruct/ }),
    ).toHaveAttribute('href', '/catalog/default/model/llama-3-8b-instruct');
    expect(
      within(baseModels).getByRole('link', { name: /mistral-7b/ }),
    ).toHaveAttribute('href', '/catalog/research/model/mistral-7b');

    expect(
      within(fieldOf('Datasets')).getByRole('link', {
        name: /support-tickets-2024/,
      }),
    ).toHaveAttribute('href', '/catalog/default/resource/support-tickets-2024');

    const tags = fieldOf('Tags');
    expect(within(tags).getByText('chat')).toBeInTheDocument();
    expect(within(tags).getByText('support')).toBeInTheDocument();

    expect(screen.queryByText('Not a Model')).not.toBeInTheDocument();
  });

  it('shows only the required fields of a minimal Model', async () => {
    await renderCard(minimalModel);

    expect(screen.getByText('Model overview')).toBeInTheDocument();
    expect(screen.getByText('No description')).toBeInTheDocument();
    expect(within(fieldOf('Type')).getByText('tabular')).toBeInTheDocument();
    expect(
      within(fieldOf('Lifecycle')).getByText('experimental'),
    ).toBeInTheDocument();
    expect(
      within(fieldOf('Owner')).getByRole('link', { name: /data-science/ }),
    ).toHaveAttribute('href', '/catalog/default/group/data-science');

    for (const label of [
      'System',
      'Task',
      'Format',
      'License',
      'Source',
      'Base models',
      'Datasets',
      'Tags',
    ]) {
      expect(
        screen.queryByRole('heading', { name: label }),
      ).not.toBeInTheDocument();
    }
  });

  it('resolves references in the namespace of the Model', async () => {
    await renderCard({
      ...minimalModel,
      metadata: { name: 'churn-classifier', namespace: 'finance' },
      spec: { ...minimalModel.spec, datasets: ['customers'] },
    });

    expect(
      within(fieldOf('Owner')).getByRole('link', { name: /data-science/ }),
    ).toHaveAttribute('href', '/catalog/finance/group/data-science');
    expect(
      within(fieldOf('Datasets')).getByRole('link', { name: /customers/ }),
    ).toHaveAttribute('href', '/catalog/finance/resource/customers');
  });

  it.each([['upload' as const], [{ upload: {} }]])(
    'shows an upload source (%j)',
    async source => {
      await renderCard({
        ...minimalModel,
        spec: { ...minimalModel.spec, source },
      });

      const field = fieldOf('Source');
      expect(field).toHaveTextContent('Upload');
      expect(within(field).queryByRole('link')).not.toBeInTheDocument();
    },
  );

  it('shows a Hugging Face source without a revision', async () => {
    await renderCard({
      ...minimalModel,
      spec: {
        ...minimalModel.spec,
        source: { huggingface: { repo: 'BAAI/bge-small-en-v1.5' } },
      },
    });

    const field = fieldOf('Source');
    expect(field).toHaveTextContent('Hugging Face: BAAI/bge-small-en-v1.5');
    expect(field).not.toHaveTextContent('revision');
    expect(within(field).getByRole('link')).toHaveAttribute(
      'href',
      'https://huggingface.co/BAAI/bge-small-en-v1.5',
    );
  });

  it('says so for an entity that is not a Model', async () => {
    await renderCard(component);

    expect(screen.getByText('Model overview')).toBeInTheDocument();
    expect(screen.getByText('Not a Model')).toBeInTheDocument();
    expect(
      screen.getByText(
        'This card shows entities of kind Model (apiVersion model-hub.dev/v1alpha1). component:default/checkout is a Component.',
      ),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('heading', { name: 'Owner' }),
    ).not.toBeInTheDocument();
  });
});

describe('huggingFaceRepoUrl', () => {
  it('links the Hub page of a repository', () => {
    expect(huggingFaceRepoUrl('meta-llama/Meta-Llama-3-8B')).toBe(
      'https://huggingface.co/meta-llama/Meta-Llama-3-8B',
    );
    expect(huggingFaceRepoUrl('a b/c?d')).toBe(
      'https://huggingface.co/a%20b/c%3Fd',
    );
  });
});
