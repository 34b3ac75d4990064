import { ResponseError } from '@backstage/errors';
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

// A model owner: model-hub.version.create allowed, model-hub.admin denied.
// usePermission caches decisions per permission and resource for the whole
// test file, so every test uses its own model; admins are tested in
// DeleteActions.admin.test.tsx.
const owner = mockApis.permission({
  authorize: request =>
    request.permission.name === 'model-hub.admin'
      ? ('DENY' as any)
      : ('ALLOW' as any),
});

function render(api: ReturnType<typeof modelHubApiMock>, element: JSX.Element) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, owner],
      ]}
    >
      {element}
    </TestApiProvider>,
  );
}

describe('DeleteVersionButton for owners', () => {
  it('deletes a draft after confirmation, not on cancel', async () => {
    const deleteVersion = jest.fn(async () => undefined);
    const onDeleted = jest.fn();
    await render(
      modelHubApiMock({ deleteVersion }),
      <DeleteVersionButton
        model={{ entityRef: 'model:default/m1' }}
        version={{ label: '2.0', state: 'draft', fileCount: 3 }}
        onDeleted={onDeleted}
      />,
    );

    fireEvent.click(
      await screen.findByRole('button', { name: 'Delete version' }),
    );
    expect(screen.getByRole('dialog')).toHaveTextContent(
      'Delete version 2.0?Version 2.0 (draft) and its 3 files are deleted for good',
    );
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );
    expect(deleteVersion).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole('button', { name: 'Delete version' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(
      Array.from(dialog.querySelectorAll('button')).find(
        b => b.textContent === 'Delete version',
      )!,
    );
    await waitFor(() => expect(onDeleted).toHaveBeenCalledTimes(1));
    expect(deleteVersion).toHaveBeenCalledWith('model:default/m1', '2.0');
  });

  it('offers rejected versions too', async () => {
    await render(
      modelHubApiMock(),
      <DeleteVersionButton
        model={{ entityRef: 'model:default/m2' }}
        version={{ label: '1.0', state: 'rejected', fileCount: 0 }}
        onDeleted={jest.fn()}
      />,
    );
    expect(
      await screen.findByRole('button', { name: 'Delete version' }),
    ).toBeInTheDocument();
  });

  it.each(['approved', 'in_review', 'deprecated'] as const)(
    'is not shown for a %s version',
    async state => {
      await render(
        modelHubApiMock(),
        <div>
          <span>loaded</span>
          <DeleteVersionButton
            model={{ entityRef: `model:default/m-${state}` }}
            version={{ label: '1.0', state, fileCount: 1 }}
            onDeleted={jest.fn()}
          />
        </div>,
      );
      await screen.findByText('loaded');
      // let the permission decisions arrive
      await new Promise(r => setTimeout(r, 50));
      expect(
        screen.queryByRole('button', { name: 'Delete version' }),
      ).not.toBeInTheDocument();
    },
  );

  it('is not shown for a model removed from the catalog (read-only)', async () => {
    await render(
      modelHubApiMock(),
      <div>
        <span>loaded</span>
        <DeleteVersionButton
          model={{
            entityRef: 'model:default/m3',
            orphanedAt: '2026-01-01T00:00:00.000Z',
          }}
          version={{ label: '1.0', state: 'draft', fileCount: 1 }}
          onDeleted={jest.fn()}
        />
      </div>,
    );
    await screen.findByText('loaded');
    await new Promise(r => setTimeout(r, 50));
    expect(
      screen.queryByRole('button', { name: 'Delete version' }),
    ).not.toBeInTheDocument();
  });

  it('keeps the dialog open with the error when the delete fails', async () => {
    const onDeleted = jest.fn();
    const response = new Response(
      JSON.stringify({
        error: { name: 'ConflictError', message: 'Version 2.0 is in_review' },
      }),
      {
        status: 409,
        statusText: 'Conflict',
        headers: { 'content-type': 'application/json' },
      },
    );
    const error = await ResponseError.fromResponse(response as any);
    await render(
      modelHubApiMock({
        deleteVersion: async () => {
          throw error;
        },
      }),
      <DeleteVersionButton
        model={{ entityRef: 'model:default/m4' }}
        version={{ label: '2.0', state: 'draft', fileCount: 1 }}
        onDeleted={onDeleted}
      />,
    );
    fireEvent.click(
      await screen.findByRole('button', { name: 'Delete version' }),
    );
    const dialog = screen.getByRole('dialog');
    fireEvent.click(
      Array.from(dialog.querySelectorAll('button')).find(
        b => b.textContent === 'Delete version',
      )!,
    );
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Version 2.0 is in_review',
    );
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    expect(onDeleted).not.toHaveBeenCalled();
  });
});

describe('DeleteModelButton for non-admins', () => {
  it('is not shown', async () => {
    await render(
      modelHubApiMock(),
      <div>
        <span>loaded</span>
        <DeleteModelButton
          model={modelHubFixtures.model({ name: 'm5', origin: 'hub' })}
          onDeleted={jest.fn()}
        />
      </div>,
    );
    await screen.findByText('loaded');
    await new Promise(r => setTimeout(r, 50));
    expect(
      screen.queryByRole('button', { name: 'Delete model' }),
    ).not.toBeInTheDocument();
  });
});
