import { ResponseError } from '@backstage/errors';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { screen } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { HubDashboard } from './HubDashboard';

const mountedRoutes = {
  '/model-hub': rootRouteRef,
  '/catalog/:namespace/:kind/:name': entityRouteRef,
};

function render(api: ReturnType<typeof modelHubApiMock>) {
  return renderInTestApp(
    <TestApiProvider apis={[[modelHubApiRef, api]]}>
      <HubDashboard />
    </TestApiProvider>,
    { mountedRoutes },
  );
}

async function notFound() {
  return ResponseError.fromResponse(
    new Response(JSON.stringify({ error: { name: 'NotFoundError' } }), {
      status: 404,
      statusText: 'Not Found',
      headers: { 'content-type': 'application/json' },
    }) as any,
  );
}

describe('HubDashboard', () => {
  it('shows progress while loading', async () => {
    const api = modelHubApiMock({ getStats: () => new Promise(() => {}) });
    await render(api);
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('shows the figures, the activity and the chart', async () => {
    const api = modelHubApiMock({
      getStatsHistory: async () => [
        { date: '2026-01-01', storageBytes: 1024, downloads: 3 },
        { date: '2026-01-02', storageBytes: 4096, downloads: 5 },
      ],
      listActivity: async () => [
        {
          id: 1,
          eventId: 'version-approve',
          actor: 'user:default/bob',
          modelRef: 'model:default/tiny-llm',
          versionLabel: '1.0',
          createdAt: '2026-01-02T10:00:00.000Z',
        },
      ],
    });
    await render(api);
    expect(await screen.findByLabelText('Models')).toHaveTextContent('12');
    expect(screen.getByText('20 versions')).toBeInTheDocument();
    expect(screen.getByLabelText('Approved versions')).toHaveTextContent('14');
    expect(screen.getByLabelText('Storage used')).toHaveTextContent('5.0 GiB');
    expect(screen.getByLabelText('Active jobs')).toHaveTextContent('2');
    expect(screen.getByLabelText('Failed jobs')).toHaveTextContent('1 failed');
    expect(screen.getByRole('link', { name: 'tiny-llm' })).toHaveAttribute(
      'href',
      '/catalog/default/model/tiny-llm',
    );
    expect(
      screen.getByRole('img', {
        name: 'Storage 4.0 KiB and 5 downloads on 2026-01-02',
      }),
    ).toBeInTheDocument();
    expect(api.getStatsHistory).toHaveBeenCalledWith({ days: 30 });
    expect(api.listActivity).toHaveBeenCalledWith({ limit: 10 });
  });

  it('copes with a backend without history and activity (404)', async () => {
    const api = modelHubApiMock({
      getStatsHistory: async () => {
        throw await notFound();
      },
      listActivity: async () => {
        throw await notFound();
      },
    });
    await render(api);
    expect(
      await screen.findByText('This backend does not record history.'),
    ).toBeInTheDocument();
    expect(screen.getByText('No recent activity.')).toBeInTheDocument();
  });

  it('shows an empty state with import and upload links', async () => {
    const api = modelHubApiMock({
      getStats: async () =>
        modelHubFixtures.stats({
          models: 0,
          versions: { total: 0, byState: {} },
        }),
    });
    await render(api);
    expect(await screen.findByText('No models yet')).toBeInTheDocument();
    expect(
      screen.getByText('Import from Hugging Face').closest('a'),
    ).toHaveAttribute('href', '/model-hub/import');
    expect(screen.getByText('Upload').closest('a')).toHaveAttribute(
      'href',
      '/model-hub/upload',
    );
  });

  it('shows the error', async () => {
    const api = modelHubApiMock({
      getStats: async () => {
        throw new Error('backend down');
      },
    });
    await render(api);
    expect((await screen.findAllByText(/backend down/)).length).toBeGreaterThan(
      0,
    );
  });
});
