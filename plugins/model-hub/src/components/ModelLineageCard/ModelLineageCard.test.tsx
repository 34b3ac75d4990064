import { Entity } from '@backstage/catalog-model';
import { renderInTestApp } from '@backstage/test-utils';
import {
  EntityProvider,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import { ModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
import { screen, within } from '@testing-library/react';
import { ModelLineageCard } from './ModelLineageCard';

const fineTune: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'llama-3-8b-support', namespace: 'default' },
  spec: {
    type: 'llm',
    lifecycle: 'production',
    owner: 'group:default/ml-engineers',
    baseModels: ['llama-3-8b-instruct'],
  },
  relations: [
    { type: 'derivedFrom', targetRef: 'model:default/llama-3-8b-instruct' },
    { type: 'derivationOf', targetRef: 'model:default/llama-3-8b-support-q4' },
    { type: 'ownedBy', targetRef: 'group:default/ml-engineers' },
  ],
};

const minimalModel: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'churn-classifier' },
  spec: { type: 'tabular', lifecycle: 'experimental', owner: 'data-science' },
};

async function renderCard(entity: Entity) {
  return renderInTestApp(
    <EntityProvider entity={entity}>
      <ModelLineageCard />
    </EntityProvider>,
    {
      mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef },
    },
  );
}

describe('ModelLineageCard', () => {
  it('lists base models and derived models once each', async () => {
    await renderCard(fineTune);

    expect(screen.getByText('Model lineage')).toBeInTheDocument();
    const derivedFrom = screen.getByRole('list', { name: 'Derived from' });
    const baseLinks = within(derivedFrom).getAllByRole('link');
    expect(baseLinks).toHaveLength(1);
    expect(baseLinks[0]).toHaveAttribute(
      'href',
      '/catalog/default/model/llama-3-8b-instruct',
    );

    const derivations = screen.getByRole('list', { name: 'Derived models' });
    expect(within(derivations).getByRole('link')).toHaveAttribute(
      'href',
      '/catalog/default/model/llama-3-8b-support-q4',
    );
  });

  it('takes base models from the spec when relations are missing', async () => {
    await renderCard({
      ...minimalModel,
      spec: { ...minimalModel.spec, baseModels: ['model:research/bert'] },
    });

    const derivedFrom = screen.getByRole('list', { name: 'Derived from' });
    expect(within(derivedFrom).getByRole('link')).toHaveAttribute(
      'href',
      '/catalog/research/model/bert',
    );
    expect(
      screen.getByText('No model in the catalog is derived from this model.'),
    ).toBeInTheDocument();
  });

  it('shows empty states for a Model without lineage', async () => {
    await renderCard(minimalModel);

    expect(
      screen.getByText('This model is not derived from another model.'),
    ).toBeInTheDocument();
    expect(
      screen.getByText('No model in the catalog is derived from this model.'),
    ).toBeInTheDocument();
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
  });

  it('says so for an entity that is not a Model', async () => {
    await renderCard({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'checkout' },
      spec: { type: 'service' },
    });

    expect(screen.getByText('Not a Model')).toBeInTheDocument();
    expect(screen.queryByRole('list')).not.toBeInTheDocument();
  });
});
