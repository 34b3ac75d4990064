import { ResponseError } from '@backstage/errors';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { identityApiRef } from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { HfImportPage } from './HfImportPage';

async function notFound() {
  return ResponseError.fromResponse(
    new Response('{}', { status: 404, statusText: 'Not Found' }) as any,
  );
}

function render(api: ReturnType<typeof modelHubApiMock>) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
        [
          identityApiRef,
          mockApis.identity({
            userEntityRef: 'user:default/alice',
            ownershipEntityRefs: [
              'user:default/alice',
              'group:default/ml-engineers',
            ],
          }),
        ],
      ]}
    >
      <HfImportPage />
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

function enterRepo(id: string) {
  fireEvent.change(screen.getByLabelText('Repository'), {
    target: { value: id },
  });
  fireEvent.click(screen.getByRole('button', { name: 'Preview' }));
}

describe('HfImportPage', () => {
  it('previews files and card, then registers the repository', async () => {
    const api = modelHubApiMock({
      getHuggingFaceRepo: async () => {
        throw await notFound();
      },
      previewHuggingFaceRepo: async repoId => ({
        repoId,
        revision: 'main',
        pipelineTag: 'text-generation',
        files: [{ path: 'model.safetensors', size: 4096 }],
        card: '---\nlicense: mit\n---\n# Tiny LLM card',
      }),
    });
    await render(api);
    enterRepo('acme/tiny-llm');
    expect(
      await screen.findByRole('heading', { name: 'Tiny LLM card' }),
    ).toBeInTheDocument();
    expect(screen.getByText('model.safetensors')).toBeInTheDocument();
    expect(screen.getByText('4.0 KiB')).toBeInTheDocument();
    expect(api.previewHuggingFaceRepo).toHaveBeenCalledWith('acme/tiny-llm', {
      revision: 'main',
    });

    const register = screen.getByRole('button', { name: 'Register' });
    await waitFor(() => expect(register).toBeEnabled());
    fireEvent.click(register);
    await waitFor(() =>
      expect(api.importHuggingFaceRepo).toHaveBeenCalledWith({
        repoId: 'acme/tiny-llm',
        revision: 'main',
        owner: 'group:default/ml-engineers',
        lifecycle: 'experimental',
      }),
    );
    expect(await screen.findByText('Registered')).toBeInTheDocument();
    expect(
      screen.getByRole('link', { name: 'model:default/tiny-llm' }),
    ).toHaveAttribute('href', '/catalog/default/model/tiny-llm');
  });

  it('shows progress while previewing', async () => {
    const api = modelHubApiMock({
      getHuggingFaceRepo: () => new Promise(() => {}),
    });
    await render(api);
    enterRepo('acme/tiny-llm');
    expect(await screen.findByTestId('progress')).toBeInTheDocument();
  });

  it('says when no preview is available (404)', async () => {
    const api = modelHubApiMock({
      getHuggingFaceRepo: async () => {
        throw await notFound();
      },
      previewHuggingFaceRepo: async () => {
        throw await notFound();
      },
    });
    await render(api);
    enterRepo('acme/missing');
    expect(
      await screen.findByText(/No preview of acme\/missing/),
    ).toBeInTheDocument();
  });

  it('says when the repository is already registered', async () => {
    const registered = modelHubApiMock({
      getHuggingFaceRepo: async repoId => modelHubFixtures.hfRepo({ repoId }),
    });
    await render(registered);
    enterRepo('acme/tiny-llm');
    expect(
      await screen.findByText(/is already registered as/),
    ).toBeInTheDocument();
  });

  it('shows registration errors', async () => {
    const api = modelHubApiMock({
      importHuggingFaceRepo: async () => {
        throw new Error('not allowed to own that');
      },
    });
    await render(api);
    fireEvent.change(screen.getByLabelText('Repository'), {
      target: { value: 'acme/tiny-llm' },
    });
    const register = screen.getByRole('button', { name: 'Register' });
    await waitFor(() => expect(register).toBeEnabled());
    fireEvent.click(register);
    expect(
      (await screen.findAllByText(/not allowed to own that/)).length,
    ).toBeGreaterThan(0);
  });
});
