import { ResponseError } from '@backstage/errors';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { identityApiRef } from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { HubSource, modelHubApiRef } from '../../api';
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

function hubSource(overrides: Partial<HubSource> = {}): HubSource {
  return {
    name: 'huggingface',
    kind: 'huggingface',
    origin: 'config',
    default: true,
    endpoint: 'https://hub.example',
    namespace: 'default',
    include: [],
    exclude: [],
    allowedOrganizations: [],
    hasToken: false,
    status: { reachable: true, credentials: 'none' },
    references: { models: 0, versions: 0 },
    ...overrides,
  };
}

function page<T>(items: T[]) {
  return { items, totalCount: items.length, offset: 0, limit: 100 };
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

  describe('source', () => {
    const previewOf = async (repoId: string) => ({
      repoId,
      revision: 'main',
      files: [{ path: 'model.safetensors', size: 4096 }],
    });

    it('offers no choice with one Hub source and sends none', async () => {
      const api = modelHubApiMock({
        // a local folder is no place to register a Hub repository from
        listSources: async () =>
          page([
            hubSource(),
            hubSource({
              name: 'shared-folder',
              kind: 'local',
              default: false,
              endpoint: undefined,
              root: '/models',
            }),
          ]),
        getHuggingFaceRepo: async () => {
          throw await notFound();
        },
        previewHuggingFaceRepo: previewOf,
      });
      await render(api);
      await waitFor(() => expect(api.listSources).toHaveBeenCalled());
      enterRepo('acme/tiny-llm');
      expect(await screen.findByText('model.safetensors')).toBeInTheDocument();
      expect(screen.queryByLabelText('Source')).not.toBeInTheDocument();
      expect(api.previewHuggingFaceRepo).toHaveBeenCalledWith('acme/tiny-llm', {
        revision: 'main',
      });
      const register = screen.getByRole('button', { name: 'Register' });
      await waitFor(() => expect(register).toBeEnabled());
      fireEvent.click(register);
      await waitFor(() => expect(api.importHuggingFaceRepo).toHaveBeenCalled());
      expect(api.importHuggingFaceRepo).toHaveBeenCalledWith({
        repoId: 'acme/tiny-llm',
        revision: 'main',
        owner: 'group:default/ml-engineers',
        lifecycle: 'experimental',
      });
      expect(
        (api.importHuggingFaceRepo as jest.Mock).mock.calls[0][0],
      ).not.toHaveProperty('source');
    });

    it('offers the Hub sources with two, the first chosen, and sends the chosen one', async () => {
      const api = modelHubApiMock({
        listSources: async () =>
          page([
            hubSource({ name: 'public', default: false }),
            hubSource({
              name: 'corp',
              default: false,
              endpoint: 'http://hub.corp.example',
              hasToken: true,
            }),
          ]),
        getHuggingFaceRepo: async () => {
          throw await notFound();
        },
        previewHuggingFaceRepo: previewOf,
      });
      await render(api);
      const picker = await screen.findByLabelText('Source');
      // the first source is chosen to begin with
      expect(
        screen.getByText('public (https://hub.example)'),
      ).toBeInTheDocument();

      fireEvent.mouseDown(within(picker.parentElement!).getByRole('button'));
      const options = await screen.findAllByRole('option');
      expect(options.map(o => o.textContent)).toEqual([
        'public (https://hub.example)',
        'corp (http://hub.corp.example)',
      ]);
      fireEvent.click(screen.getByRole('option', { name: /^corp/ }));
      expect(
        await screen.findByText('corp (http://hub.corp.example)'),
      ).toBeInTheDocument();

      enterRepo('acme/private-llm');
      expect(await screen.findByText('model.safetensors')).toBeInTheDocument();
      expect(api.getHuggingFaceRepo).toHaveBeenCalledWith('acme/private-llm', {
        source: 'corp',
      });
      expect(api.previewHuggingFaceRepo).toHaveBeenCalledWith(
        'acme/private-llm',
        { revision: 'main', source: 'corp' },
      );
      const register = screen.getByRole('button', { name: 'Register' });
      await waitFor(() => expect(register).toBeEnabled());
      fireEvent.click(register);
      await waitFor(() =>
        expect(api.importHuggingFaceRepo).toHaveBeenCalledWith({
          repoId: 'acme/private-llm',
          revision: 'main',
          owner: 'group:default/ml-engineers',
          lifecycle: 'experimental',
          source: 'corp',
        }),
      );
    });

    it('starts with the source the backend marks as default', async () => {
      const api = modelHubApiMock({
        listSources: async () =>
          page([
            hubSource({ name: 'public', default: false }),
            hubSource({
              name: 'corp',
              default: true,
              endpoint: 'http://hub.corp.example',
            }),
          ]),
      });
      await render(api);
      await screen.findByLabelText('Source');
      expect(
        screen.getByText('corp (http://hub.corp.example)'),
      ).toBeInTheDocument();
      fireEvent.change(screen.getByLabelText('Repository'), {
        target: { value: 'acme/tiny-llm' },
      });
      const register = screen.getByRole('button', { name: 'Register' });
      await waitFor(() => expect(register).toBeEnabled());
      fireEvent.click(register);
      await waitFor(() =>
        expect(api.importHuggingFaceRepo).toHaveBeenCalledWith(
          expect.objectContaining({ source: 'corp' }),
        ),
      );
    });
  });
});
