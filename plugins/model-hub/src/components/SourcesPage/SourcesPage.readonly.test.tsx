import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { screen, waitFor } from '@testing-library/react';
import { HubSource, modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock } from '../../testUtils';
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

// its own file: usePermission caches decisions for the whole test module
describe('SourcesPage without model-hub.admin', () => {
  it('offers no changes without model-hub.admin', async () => {
    const api = modelHubApiMock({
      listSources: async () =>
        page([source(), { ...CORP, tokenRef: undefined }]),
    });
    await render(api, { admin: false, route: '/?source=corp' });
    expect(await screen.findByText('Source corp')).toBeInTheDocument();
    // usePermission caches decisions across tests: wait for this one
    await waitFor(() =>
      expect(
        screen.queryByRole('button', { name: 'Check now' }),
      ).not.toBeInTheDocument(),
    );
    expect(
      screen.queryByRole('button', { name: 'Add source' }),
    ).not.toBeInTheDocument();
    expect(screen.queryByText(/token from/)).not.toBeInTheDocument();
  });
});
