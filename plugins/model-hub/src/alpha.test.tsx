import { Entity } from '@backstage/catalog-model';
import {
  createExtensionTester,
  renderTestApp,
} from '@backstage/frontend-test-utils';
import { EntityCardBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { createTestEntityPage } from '@backstage/plugin-catalog-react/testUtils';
import { ModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
import { screen } from '@testing-library/react';
import { modelHubApiRef } from './api';
import { modelHubApiMock } from './testUtils';
import modelHubPlugin, {
  entityModelLineageCard,
  entityModelOverviewCard,
} from './alpha';

const model: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: {
    name: 'bge-small',
    namespace: 'default',
    description: 'Small English embedding model.',
  },
  spec: {
    type: 'embedding',
    lifecycle: 'production',
    owner: 'group:default/ml-engineers',
    task: 'feature-extraction',
    source: { huggingface: { repo: 'BAAI/bge-small-en-v1.5' } },
  },
};

const component: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'checkout', namespace: 'default' },
  spec: { type: 'service', lifecycle: 'production', owner: 'team-a' },
};

function filterOf(tester: {
  get(ref: typeof EntityCardBlueprint.dataRefs.filterFunction): unknown;
}): (entity: Entity) => boolean {
  const filter = tester.get(EntityCardBlueprint.dataRefs.filterFunction);
  if (typeof filter !== 'function') {
    throw new Error('The card has no filter function');
  }
  return filter as (entity: Entity) => boolean;
}

jest.setTimeout(60_000);

describe('model-hub plugin (new frontend system)', () => {
  it('provides the entity cards under their extension ids', () => {
    expect(
      modelHubPlugin.getExtension('entity-card:model-hub/model-overview'),
    ).toMatchObject({
      kind: 'entity-card',
      namespace: 'model-hub',
      name: 'model-overview',
    });
    expect(
      modelHubPlugin.getExtension('entity-card:model-hub/model-lineage'),
    ).toMatchObject({
      kind: 'entity-card',
      namespace: 'model-hub',
      name: 'model-lineage',
    });
  });

  it('shows the overview card on the entity page of a Model', async () => {
    renderTestApp({
      extensions: [createTestEntityPage({ entity: model })],
      features: [modelHubPlugin],
    });

    expect(
      await screen.findByText('Model overview', {}, { timeout: 15000 }),
    ).toBeInTheDocument();
    expect(await screen.findByText('Model lineage')).toBeInTheDocument();
    expect(
      await screen.findByText('Small English embedding model.'),
    ).toBeInTheDocument();
    expect(screen.getByText('embedding')).toBeInTheDocument();
    expect(screen.getByText('feature-extraction')).toBeInTheDocument();
    expect(
      screen.getByRole('link', { name: /BAAI\/bge-small-en-v1\.5/ }),
    ).toHaveAttribute('href', 'https://huggingface.co/BAAI/bge-small-en-v1.5');
  });

  it('leaves the overview card off the entity page of a Component', async () => {
    renderTestApp({
      extensions: [createTestEntityPage({ entity: component })],
      features: [modelHubPlugin],
    });

    expect(await screen.findByTestId('empty-entity-page')).toBeInTheDocument();
    expect(screen.queryByText('Model overview')).not.toBeInTheDocument();
    expect(screen.queryByText('Model lineage')).not.toBeInTheDocument();
  });

  it('lets the app disable a card by its extension id', async () => {
    renderTestApp({
      extensions: [createTestEntityPage({ entity: model })],
      features: [modelHubPlugin],
      config: {
        app: {
          extensions: [{ 'entity-card:model-hub/model-lineage': false }],
        },
      },
    });

    expect(
      await screen.findByText('Model overview', {}, { timeout: 15000 }),
    ).toBeInTheDocument();
    expect(screen.queryByText('Model lineage')).not.toBeInTheDocument();
  });

  it('declares an info card filtered to the Model kind', () => {
    const tester = createExtensionTester(entityModelOverviewCard);
    const filter = filterOf(tester);

    expect(tester.get(EntityCardBlueprint.dataRefs.type)).toBe('info');
    expect(filter(model)).toBe(true);
    expect(filter({ ...model, kind: 'model' })).toBe(true);
    expect(filter(component)).toBe(false);
  });

  it('declares a content card filtered to the Model kind for lineage', () => {
    const tester = createExtensionTester(entityModelLineageCard);
    const filter = filterOf(tester);

    expect(tester.get(EntityCardBlueprint.dataRefs.type)).toBe('content');
    expect(filter(model)).toBe(true);
    expect(filter(component)).toBe(false);
  });

  it('lets the app config override the filter', () => {
    const tester = createExtensionTester(entityModelOverviewCard, {
      config: { filter: { 'spec.type': 'llm' } },
    });
    const filter = filterOf(tester);

    expect(filter(model)).toBe(false);
    expect(filter({ ...model, spec: { ...model.spec, type: 'llm' } })).toBe(
      true,
    );
  });

  it('provides the API, the hub page with its sub-pages and the versions tab', () => {
    for (const id of [
      'api:model-hub',
      'page:model-hub',
      'sub-page:model-hub/overview',
      'sub-page:model-hub/models',
      'sub-page:model-hub/upload',
      'sub-page:model-hub/approvals',
      'sub-page:model-hub/jobs',
      'sub-page:model-hub/import',
      'sub-page:model-hub/audit',
      'sub-page:model-hub/scan',
      'sub-page:model-hub/sources',
      'entity-content:model-hub/versions',
    ]) {
      expect(modelHubPlugin.getExtension(id as any)).toBeDefined();
    }
  });

  it('renders the hub page tabs in the new frontend system', async () => {
    renderTestApp({
      features: [modelHubPlugin],
      apis: [[modelHubApiRef, modelHubApiMock()]],
      initialRouteEntries: ['/model-hub/jobs'],
    });
    expect(
      await screen.findByText('No jobs', {}, { timeout: 15000 }),
    ).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'Approvals' })).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'Overview' })).toBeInTheDocument();
  });

  it('shows the versions tab on Model entity pages', async () => {
    renderTestApp({
      extensions: [createTestEntityPage({ entity: model })],
      features: [modelHubPlugin],
      apis: [[modelHubApiRef, modelHubApiMock()]],
    });
    expect(
      await screen.findByText('Version 1.0', {}, { timeout: 15000 }),
    ).toBeInTheDocument();
  });
});
