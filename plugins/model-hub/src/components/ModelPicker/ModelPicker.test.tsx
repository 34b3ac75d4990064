import { TestApiProvider, renderInTestApp } from '@backstage/test-utils';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { ModelHubApi, modelHubApiRef } from '../../api';
import { loadApprovedVersions } from './loadApprovedVersions';
import { ModelPicker, modelPickerValidation } from './ModelPicker';

function model(name: string, states: string[]) {
  return {
    id: name,
    entityRef: `model:default/${name}`,
    namespace: 'default',
    name,
    title: name.toUpperCase(),
    type: 'llm',
    lifecycle: 'production',
    owner: 'group:default/ml-engineers',
    sourceType: 'huggingface',
    tags: [],
    createdBy: 'user:default/alice',
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    versions: states.map((state, i) => ({
      id: `${name}-${i}`,
      label: `v${i + 1}`,
      state,
      resolvedCommit: 'a'.repeat(40),
    })),
  };
}

const models = [
  model('llama', ['approved', 'in_review', 'approved']),
  model('mistral', ['draft', 'approved']),
];

function mockApi(): jest.Mocked<Pick<ModelHubApi, 'listModels' | 'getModel'>> {
  return {
    listModels: jest.fn(async () => ({
      items: models as any,
      totalCount: models.length,
      offset: 0,
      limit: 100,
    })),
    getModel: jest.fn(
      async (ref: any) => models.find(m => m.name === ref.name) as any,
    ),
  };
}

describe('loadApprovedVersions', () => {
  it('lists only the approved versions of the readable models with one', async () => {
    const api = mockApi();
    await expect(
      loadApprovedVersions(api as unknown as ModelHubApi, { types: ['llm'] }),
    ).resolves.toEqual([
      {
        modelRef: 'model:default/llama',
        version: 'v1',
        title: 'LLAMA',
        revision: 'a'.repeat(40),
      },
      {
        modelRef: 'model:default/llama',
        version: 'v3',
        title: 'LLAMA',
        revision: 'a'.repeat(40),
      },
      {
        modelRef: 'model:default/mistral',
        version: 'v2',
        title: 'MISTRAL',
        revision: 'a'.repeat(40),
      },
    ]);
    expect(api.listModels).toHaveBeenCalledWith({
      state: ['approved'],
      type: ['llm'],
      owner: undefined,
      offset: 0,
      limit: 100,
      sort: 'name',
    });
  });

  it('pages through the models', async () => {
    const api = mockApi();
    api.listModels
      .mockResolvedValueOnce({
        items: [models[0]] as any,
        totalCount: 101,
        offset: 0,
        limit: 100,
      })
      .mockResolvedValueOnce({
        items: [models[1]] as any,
        totalCount: 101,
        offset: 100,
        limit: 100,
      });
    const options = await loadApprovedVersions(api as unknown as ModelHubApi);
    expect(options.map(o => `${o.modelRef}@${o.version}`)).toEqual([
      'model:default/llama@v1',
      'model:default/llama@v3',
      'model:default/mistral@v2',
    ]);
    expect(api.listModels).toHaveBeenCalledTimes(2);
    expect(api.listModels).toHaveBeenLastCalledWith(
      expect.objectContaining({ offset: 100 }),
    );
  });
});

describe('ModelPicker', () => {
  it('offers the approved versions and reports the picked one', async () => {
    const api = mockApi();
    const onChange = jest.fn();
    await renderInTestApp(
      <TestApiProvider apis={[[modelHubApiRef, api]]}>
        <ModelPicker
          {...({
            onChange,
            schema: { title: 'Model version' },
            uiSchema: {},
            rawErrors: [],
            required: true,
            formData: undefined,
            idSchema: { $id: 'root_model' },
          } as any)}
        />
      </TestApiProvider>,
    );
    const input = screen.getByRole('textbox', { name: /Model version/ });
    fireEvent.mouseDown(input);
    fireEvent.change(input, { target: { value: 'MISTRAL' } });
    const option = await screen.findByText(
      'MISTRAL · v2 (model:default/mistral)',
    );
    expect(screen.queryByText(/in_review|draft/)).not.toBeInTheDocument();
    fireEvent.click(option);
    await waitFor(() =>
      expect(onChange).toHaveBeenCalledWith({
        modelRef: 'model:default/mistral',
        version: 'v2',
      }),
    );
  });

  it('validates that a model and a version are picked', () => {
    const addError = jest.fn();
    modelPickerValidation(
      { modelRef: 'model:default/x', version: '' },
      { addError } as any,
      {} as any,
    );
    expect(addError).toHaveBeenCalledWith('Pick an approved model version');
    addError.mockClear();
    modelPickerValidation(
      { modelRef: 'model:default/x', version: 'v1' },
      { addError } as any,
      {} as any,
    );
    expect(addError).not.toHaveBeenCalled();
  });
});
