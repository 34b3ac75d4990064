import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { HubSource, modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock } from '../../testUtils';
import { ModelSourceCard } from './ModelSourceCard';
import { SourcesPage } from './SourcesPage';

function source(overrides: Partial<HubSource> = {}): HubSource {
  return {
    name: 'public',
    kind: 'huggingface',
    origin: 'config',
    default: true,
    endpoint: 'https://huggingface.co',
    namespace: 'default',
    include: [],
    exclude: [],
    allowedOrganizations: [],
    hasToken: false,
    status: {
      reachable: true,
      credentials: 'none',
      checkedAt: '2026-12-02T10:00:00.000Z',
      lastSuccessfulSyncAt: '2026-12-02T09:00:00.000Z',
    },
    references: { models: 1, versions: 1 },
    ...overrides,
  };
}

const CORP = source({
  name: 'corp',
  origin: 'runtime',
  default: false,
  endpoint: 'http://hub.corp.example',
  namespace: 'corp',
  hasToken: true,
  tokenRef: 'env:HF_CORP_TOKEN',
  exclude: ['*.onnx'],
  status: {
    reachable: true,
    credentials: 'invalid',
    lastError: '401 Unauthorized: Invalid credentials in Authorization header',
    checkedAt: '2026-12-02T10:05:00.000Z',
    failingSince: '2026-12-02T10:05:00.000Z',
    rateLimit: { limited: false, remaining: 990, limit: 1000 },
  },
  problem: 'credentials invalid: 401 Unauthorized',
  references: { models: 2, versions: 3 },
});

function render(
  api: ReturnType<typeof modelHubApiMock>,
  options: { admin?: boolean; route?: string } = {},
  element = <SourcesPage />,
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [
          permissionApiRef,
          mockApis.permission({
            authorize:
              (options.admin === false ? 'DENY' : 'ALLOW') as any,
          }),
        ],
      ]}
    >
      {element}
    </TestApiProvider>,
    {
      routeEntries: [options.route ?? '/'],
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

const page = (items: HubSource[]) => ({
  items,
  totalCount: items.length,
  offset: 0,
  limit: 50,
});

describe('SourcesPage', () => {
  it('lists every source with its status, rate limit and models', async () => {
    const api = modelHubApiMock({
      listSources: async () => page([source(), CORP]),
    });
    await render(api);
    const table = await screen.findByRole('table', { name: 'Model sources' });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1]).getByText('public')).toBeInTheDocument();
    expect(within(rows[1]).getByText('default')).toBeInTheDocument();
    expect(
      within(rows[1]).getByText('Reachable (anonymous)'),
    ).toBeInTheDocument();
    expect(within(rows[2]).getByText('corp')).toBeInTheDocument();
    expect(
      within(rows[2]).getByText('Credentials invalid'),
    ).toBeInTheDocument();
    expect(within(rows[2]).getByText('990 of 1000 left')).toBeInTheDocument();
    expect(within(rows[2]).getByText('2')).toBeInTheDocument();
  });

  it('shows a source with its error and the models that came from it', async () => {
    const api = modelHubApiMock({
      listSources: async () => page([source(), CORP]),
      listSourceModels: async () => ({
        items: [
          {
            entityRef: 'model:corp/acme--tiny-llm',
            namespace: 'corp',
            name: 'acme--tiny-llm',
            title: 'acme/tiny-llm',
            repoId: 'acme/tiny-llm',
            syncState: 'synced',
            versions: 2,
          },
        ],
        totalCount: 1,
        offset: 0,
        limit: 100,
      }),
    });
    await render(api, { route: '/?source=corp' });
    expect(await screen.findByText('Source corp')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('credentials invalid');
    expect(
      screen.getByText(/token from env:HF_CORP_TOKEN/),
    ).toBeInTheDocument();
    expect(screen.getByText('exclude *.onnx')).toBeInTheDocument();
    const models = await screen.findByRole('table', { name: 'Models of corp' });
    const link = within(models).getByRole('link', { name: 'acme/tiny-llm' });
    expect(link).toHaveAttribute('href', '/catalog/corp/model/acme--tiny-llm');
    expect(api.listSourceModels).toHaveBeenCalledWith('corp', { limit: 100 });
  });

  it('lets admins check a source now and add one with a token reference', async () => {
    let sources = [source(), CORP];
    const api = modelHubApiMock({
      listSources: async () => page(sources),
      checkSource: async name => {
        const healed = {
          ...CORP,
          problem: undefined,
          status: { ...CORP.status, credentials: 'valid' as const },
        };
        sources = [source(), healed];
        expect(name).toBe('corp');
        return healed;
      },
      createSource: async request => {
        const created = source({
          ...request,
          origin: 'runtime',
          default: false,
          hasToken: true,
          namespace: request.name,
        });
        sources = [...sources, created];
        return created;
      },
    });
    await render(api, { route: '/?source=corp' });
    fireEvent.click(await screen.findByRole('button', { name: 'Check now' }));
    await waitFor(() => expect(api.checkSource).toHaveBeenCalledWith('corp'));
    await waitFor(() =>
      expect(screen.queryByText('Credentials invalid')).not.toBeInTheDocument(),
    );
    expect(screen.getAllByText('Credentials valid').length).toBeGreaterThan(0);

    fireEvent.change(screen.getByLabelText('Name'), {
      target: { value: 'mirror' },
    });
    fireEvent.change(screen.getByLabelText('Endpoint'), {
      target: { value: 'https://mirror.example' },
    });
    fireEvent.change(screen.getByLabelText(/Token reference/), {
      target: { value: 'env:HF_MIRROR_TOKEN' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Add source' }));
    await waitFor(() =>
      expect(api.createSource).toHaveBeenCalledWith({
        name: 'mirror',
        kind: 'huggingface',
        endpoint: 'https://mirror.example',
        tokenRef: 'env:HF_MIRROR_TOKEN',
      }),
    );
    expect(await screen.findByText('Source mirror')).toBeInTheDocument();
  });

  it('shows the server refusal of a new source', async () => {
    const api = modelHubApiMock({
      listSources: async () => page([source()]),
      createSource: async () => {
        throw new Error(
          'tokenRef must be env:<HF_... or MODEL_HUB_... variable>',
        );
      },
    });
    await render(api);
    fireEvent.change(await screen.findByLabelText('Name'), {
      target: { value: 'x' },
    });
    fireEvent.change(screen.getByLabelText('Endpoint'), {
      target: { value: 'https://x.example' },
    });
    fireEvent.change(screen.getByLabelText(/Token reference/), {
      target: { value: 'hf_plain' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Add source' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'tokenRef must be',
    );
  });
});

describe('ModelSourceCard', () => {
  it('links the model to its source and shows the source problem', async () => {
    const api = modelHubApiMock({
      getSourceOfModel: async () => ({ ...CORP, configured: true }),
    });
    await render(
      api,
      {},
      <ModelSourceCard model={{ namespace: 'corp', name: 'acme--tiny-llm' }} />,
    );
    const link = await screen.findByRole('link', { name: 'corp' });
    expect(link).toHaveAttribute('href', '/model-hub/sources?source=corp');
    expect(screen.getByRole('alert')).toHaveTextContent(
      'This model cannot sync from corp: credentials invalid',
    );
    expect(api.getSourceOfModel).toHaveBeenCalledWith({
      namespace: 'corp',
      name: 'acme--tiny-llm',
    });
  });

  it('renders nothing for a model that came from no source', async () => {
    const api = modelHubApiMock();
    const { container } = await render(
      api,
      {},
      <ModelSourceCard model="model:default/uploaded" />,
    );
    await waitFor(() => expect(api.getSourceOfModel).toHaveBeenCalled());
    expect(container.textContent).toBe('');
  });
});
