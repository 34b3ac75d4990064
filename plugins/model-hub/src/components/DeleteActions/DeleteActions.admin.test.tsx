import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { DeleteModelButton } from './DeleteModelButton';
import { DeleteVersionButton } from './DeleteVersionButton';

// An admin: every permission allowed (model-hub.admin included).
function render(api: ReturnType<typeof modelHubApiMock>, element: JSX.Element) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission({ authorize: 'ALLOW' as any })],
      ]}
    >
      <div>
        <span>loaded</span>
        {element}
      </div>
    </TestApiProvider>,
  );
}

function confirmIn(dialog: HTMLElement, label: string) {
  fireEvent.click(
    Array.from(dialog.querySelectorAll('button')).find(
      b => b.textContent === label,
    )!,
  );
}

describe('delete actions for admins', () => {
  it('deletes an approved version after confirmation', async () => {
    const deleteVersion = jest.fn(async () => undefined);
    const onDeleted = jest.fn();
    await render(
      modelHubApiMock({ deleteVersion }),
      <DeleteVersionButton
        model={{ entityRef: 'model:default/a1' }}
        version={{ label: '1.0', state: 'approved', fileCount: 2 }}
        onDeleted={onDeleted}
      />,
    );
    fireEvent.click(
      await screen.findByRole('button', { name: 'Delete version' }),
    );
    confirmIn(screen.getByRole('dialog'), 'Delete version');
    await waitFor(() => expect(onDeleted).toHaveBeenCalled());
    expect(deleteVersion).toHaveBeenCalledWith('model:default/a1', '1.0');
  });

  it('deletes a model created through the API after confirmation', async () => {
    const deleteModel = jest.fn(async () => undefined);
    const onDeleted = jest.fn();
    const model = modelHubFixtures.model({
      name: 'a2',
      entityRef: 'model:default/a2',
      origin: 'hub',
    });
    await render(
      modelHubApiMock({ deleteModel }),
      <DeleteModelButton model={model} onDeleted={onDeleted} />,
    );
    fireEvent.click(
      await screen.findByRole('button', { name: 'Delete model' }),
    );
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent(
      'Delete model a2?The model model:default/a2 and its 1 versions, their files and jobs are deleted for good.',
    );
    expect(deleteModel).not.toHaveBeenCalled();
    confirmIn(dialog, 'Delete model');
    await waitFor(() => expect(onDeleted).toHaveBeenCalled());
    expect(deleteModel).toHaveBeenCalledWith('model:default/a2');
  });

  it('offers catalog-defined models only once the catalog dropped them', async () => {
    const inCatalog = modelHubFixtures.model({ name: 'a3', origin: 'catalog' });
    const { unmount } = await render(
      modelHubApiMock(),
      <DeleteModelButton model={inCatalog} onDeleted={jest.fn()} />,
    );
    await screen.findByText('loaded');
    await new Promise(r => setTimeout(r, 50));
    expect(
      screen.queryByRole('button', { name: 'Delete model' }),
    ).not.toBeInTheDocument();
    unmount();

    await render(
      modelHubApiMock(),
      <DeleteModelButton
        model={{ ...inCatalog, orphanedAt: '2026-01-01T00:00:00.000Z' }}
        onDeleted={jest.fn()}
      />,
    );
    expect(
      await screen.findByRole('button', { name: 'Delete model' }),
    ).toBeInTheDocument();
  });
});
