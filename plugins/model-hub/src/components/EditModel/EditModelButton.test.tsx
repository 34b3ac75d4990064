import { ResponseError } from '@backstage/errors';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { EditModelButton, modelPatch } from './EditModelButton';

// usePermission caches decisions per permission and resource for the whole
// test file, so every test uses its own model.
// The model's owner: model-hub.version.create allowed on e-* models only.
const permission = mockApis.permission({
  authorize: request =>
    request.permission.name === 'model-hub.version.create' &&
    (request as { resourceRef?: string }).resourceRef?.startsWith(
      'model:default/e-',
    )
      ? ('ALLOW' as any)
      : ('DENY' as any),
});

function render(api: ReturnType<typeof modelHubApiMock>, element: JSX.Element) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, permission],
      ]}
    >
      <div>
        <span>loaded</span>
        {element}
      </div>
    </TestApiProvider>,
  );
}

const hubModel = (name: string) =>
  modelHubFixtures.model({
    name,
    entityRef: `model:default/${name}`,
    origin: 'hub',
  });

async function errorFrom(status: number, name: string, message: string) {
  const response = new Response(JSON.stringify({ error: { name, message } }), {
    status,
    statusText: name,
    headers: { 'content-type': 'application/json' },
  });
  return ResponseError.fromResponse(response as any);
}

function input(dialog: HTMLElement, label: string) {
  return within(dialog).getByLabelText(label) as HTMLInputElement;
}

function save(dialog: HTMLElement) {
  fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
}

async function editButtonAfterDecisions() {
  await screen.findByText('loaded');
  // let the permission decisions arrive
  await new Promise(r => setTimeout(r, 50));
  return screen.queryByRole('button', { name: 'Edit model' });
}

describe('EditModelButton', () => {
  it('saves the changed fields with the updatedAt it was opened with', async () => {
    const updateModel = jest.fn(async () => hubModel('e-1'));
    const onChanged = jest.fn();
    await render(
      modelHubApiMock({ updateModel }),
      <EditModelButton model={hubModel('e-1')} onChanged={onChanged} />,
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Edit model' }));
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('Edit model e-1');
    expect(input(dialog, 'Title').value).toBe('Tiny LLM');
    expect(input(dialog, 'Tags').value).toBe('chat');
    // nothing changed yet: nothing to save
    expect(within(dialog).getByRole('button', { name: 'Save' })).toBeDisabled();

    fireEvent.change(input(dialog, 'Title'), {
      target: { value: '  Tiny LLM v2 ' },
    });
    fireEvent.change(input(dialog, 'License'), { target: { value: '' } });
    fireEvent.change(input(dialog, 'Tags'), {
      target: { value: 'chat, small demo' },
    });
    save(dialog);
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(updateModel).toHaveBeenCalledWith('model:default/e-1', {
      title: 'Tiny LLM v2',
      license: null,
      tags: ['chat', 'small', 'demo'],
      expectedUpdatedAt: '2026-01-02T00:00:00.000Z',
    });
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );
  });

  it('changes type and format through their selects', async () => {
    const updateModel = jest.fn(async () => hubModel('e-2'));
    await render(
      modelHubApiMock({ updateModel }),
      <EditModelButton model={hubModel('e-2')} onChanged={jest.fn()} />,
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Edit model' }));
    const dialog = screen.getByRole('dialog');
    const choose = (label: string, option: string) => {
      fireEvent.mouseDown(within(dialog).getByLabelText(label));
      fireEvent.click(
        within(screen.getByRole('listbox')).getByRole('option', {
          name: option,
        }),
      );
    };
    choose('Type', 'embedding');
    choose('Format', '(none)');
    save(dialog);
    await waitFor(() => expect(updateModel).toHaveBeenCalled());
    expect(updateModel).toHaveBeenCalledWith('model:default/e-2', {
      type: 'embedding',
      format: null,
      expectedUpdatedAt: '2026-01-02T00:00:00.000Z',
    });
  });

  it("shows the server's 400 message in the dialog", async () => {
    const error = await errorFrom(
      400,
      'InputError',
      'Invalid model: tags.0: must be a lower-case tag',
    );
    const onChanged = jest.fn();
    await render(
      modelHubApiMock({
        updateModel: async () => {
          throw error;
        },
      }),
      <EditModelButton model={hubModel('e-3')} onChanged={onChanged} />,
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Edit model' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.change(input(dialog, 'Tags'), { target: { value: 'Chat' } });
    save(dialog);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Invalid model: tags.0: must be a lower-case tag',
    );
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    // the input stays, to be corrected and saved again
    expect(input(dialog, 'Tags').value).toBe('Chat');
    expect(within(dialog).getByRole('button', { name: 'Save' })).toBeEnabled();
    expect(onChanged).not.toHaveBeenCalled();
  });

  it('shows a conflict when the model changed since the dialog opened', async () => {
    const error = await errorFrom(
      409,
      'ConflictError',
      'Model model:default/e-4 was changed concurrently; reload it and try again',
    );
    const onChanged = jest.fn();
    await render(
      modelHubApiMock({
        updateModel: async () => {
          throw error;
        },
      }),
      <EditModelButton model={hubModel('e-4')} onChanged={onChanged} />,
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Edit model' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.change(input(dialog, 'Title'), { target: { value: 'Mine' } });
    save(dialog);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The model changed since you opened it',
    );
    expect(screen.getByRole('alert')).toHaveTextContent(
      'was changed concurrently',
    );
    // no blind overwrite: saving again needs a reload
    expect(within(dialog).getByRole('button', { name: 'Save' })).toBeDisabled();
    expect(onChanged).not.toHaveBeenCalled();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
  });

  it('is not shown to those who may not change the model', async () => {
    await render(
      modelHubApiMock(),
      <EditModelButton model={hubModel('other-5')} onChanged={jest.fn()} />,
    );
    expect(await editButtonAfterDecisions()).not.toBeInTheDocument();
  });

  it('is not shown for catalog-defined or orphaned models', async () => {
    const { unmount } = await render(
      modelHubApiMock(),
      <EditModelButton
        model={{ ...hubModel('e-6'), origin: 'catalog' }}
        onChanged={jest.fn()}
      />,
    );
    expect(await editButtonAfterDecisions()).not.toBeInTheDocument();
    unmount();
    await render(
      modelHubApiMock(),
      <EditModelButton
        model={{
          ...hubModel('e-7'),
          origin: 'catalog',
          orphanedAt: '2026-01-03T00:00:00.000Z',
        }}
        onChanged={jest.fn()}
      />,
    );
    expect(await editButtonAfterDecisions()).not.toBeInTheDocument();
  });
});

describe('modelPatch', () => {
  const model = hubModel('e-8');
  const form = {
    title: 'Tiny LLM',
    description: 'A tiny language model',
    type: 'llm',
    task: 'text-generation',
    format: 'safetensors',
    license: 'apache-2.0',
    lifecycle: 'experimental',
    owner: 'group:default/ml-engineers',
    system: '',
    tags: 'chat',
  };

  it('is empty when nothing changed', () => {
    expect(modelPatch(model, form)).toEqual({});
    expect(modelPatch(model, { ...form, tags: ' chat, ' })).toEqual({});
  });

  it('clears emptied optional fields and sends emptied required ones as is', () => {
    expect(
      modelPatch(model, {
        ...form,
        description: '  ',
        task: '',
        lifecycle: ' ',
        system: 'system:default/rag',
        owner: 'group:default/other',
      }),
    ).toEqual({
      description: null,
      task: null,
      lifecycle: '',
      system: 'system:default/rag',
      owner: 'group:default/other',
    });
  });
});
