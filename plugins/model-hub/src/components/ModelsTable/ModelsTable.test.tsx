import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import {
  configure,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { ModelsTable } from './ModelsTable';

const mountedRoutes = {
  '/model-hub': rootRouteRef,
  '/catalog/:namespace/:kind/:name': entityRouteRef,
};

function render(api: ReturnType<typeof modelHubApiMock>) {
  return renderInTestApp(
    <TestApiProvider apis={[[modelHubApiRef, api]]}>
      <ModelsTable />
    </TestApiProvider>,
    { mountedRoutes },
  );
}

jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

describe('ModelsTable', () => {
  it('asks the server for one page and shows it', async () => {
    const api = modelHubApiMock({
      listModels: async () => ({
        items: [
          modelHubFixtures.modelSummary(),
          modelHubFixtures.modelSummary({
            name: 'whisper',
            title: undefined,
            type: 'audio',
            sourceType: 'upload',
            source: 'upload',
            latestVersion: {
              label: '0.1',
              state: 'in_review',
              createdAt: '2026-01-01T00:00:00Z',
            },
          }),
        ],
        totalCount: 10000,
        offset: 0,
        limit: 20,
      }),
    });
    await render(api);
    expect(
      await screen.findByRole('link', { name: 'Tiny LLM' }),
    ).toHaveAttribute('href', '/catalog/default/model/tiny-llm');
    expect(screen.getByRole('link', { name: 'whisper' })).toBeInTheDocument();
    expect(screen.getByText('acme/tiny-llm')).toBeInTheDocument();
    expect(screen.getByText('Upload')).toBeInTheDocument();
    expect(screen.getByText('In review')).toBeInTheDocument();
    expect(screen.getAllByText(/1-20 of 10000/).length).toBeGreaterThan(0);
    expect(api.listModels).toHaveBeenCalledTimes(1);
    expect(api.listModels).toHaveBeenCalledWith({
      offset: 0,
      limit: 20,
      q: undefined,
      type: undefined,
      state: undefined,
      owner: undefined,
      source: undefined,
      tag: undefined,
      sort: undefined,
      order: undefined,
    });
  });

  it('marks models the catalog no longer holds', async () => {
    const api = modelHubApiMock({
      listModels: async () => ({
        items: [
          modelHubFixtures.modelSummary({ name: 'kept', title: 'Kept' }),
          modelHubFixtures.modelSummary({
            name: 'dropped',
            title: 'Dropped',
            origin: 'catalog',
            orphanedAt: '2026-01-05T00:00:00.000Z',
          }),
        ],
        totalCount: 2,
        offset: 0,
        limit: 20,
      }),
    });
    await render(api);
    const dropped = await screen.findByRole('link', { name: 'Dropped' });
    expect(dropped.closest('td')).toHaveTextContent(
      'DroppeddroppedRemoved from the catalog',
    );
    expect(
      screen.getByRole('link', { name: 'Kept' }).closest('td'),
    ).not.toHaveTextContent('Removed from the catalog');
  });

  it('shows the loading state until the first page arrives', async () => {
    const api = modelHubApiMock({ listModels: () => new Promise(() => {}) });
    await render(api);
    expect(screen.getByRole('progressbar')).toBeInTheDocument();
  });

  it('shows the empty state', async () => {
    const api = modelHubApiMock();
    await render(api);
    expect(await screen.findByText('No models match.')).toBeInTheDocument();
  });

  it('shows the error', async () => {
    const api = modelHubApiMock({
      listModels: async () => {
        throw new Error('database on fire');
      },
    });
    await render(api);
    expect(
      (await screen.findAllByText(/database on fire/)).length,
    ).toBeGreaterThan(0);
  });

  it('sends filters and the debounced owner to the server', async () => {
    const api = modelHubApiMock();
    await render(api);
    await waitFor(() => expect(api.listModels).toHaveBeenCalledTimes(1));
    fireEvent.change(screen.getByLabelText('Owner'), {
      target: { value: 'group:default/ml-engineers' },
    });
    await waitFor(() =>
      expect(api.listModels).toHaveBeenLastCalledWith(
        expect.objectContaining({
          offset: 0,
          owner: ['group:default/ml-engineers'],
        }),
      ),
    );
  });

  it('shows the active version and the version that needs most attention', async () => {
    const api = modelHubApiMock({
      listModels: async () => ({
        items: [
          modelHubFixtures.modelSummary({
            activeVersion: {
              label: '1.0',
              state: 'approved',
              promotedAt: '2026-01-03T00:00:00.000Z',
              promotedBy: 'user:default/alice',
            },
            worstState: {
              label: '2.0',
              state: 'in_review',
              failedChecks: ['model-hub.safety'],
            },
          }),
        ],
        totalCount: 1,
        offset: 0,
        limit: 20,
      }),
    });
    await render(api);
    const row = (
      await screen.findByRole('link', { name: 'Tiny LLM' }, slow)
    ).closest('tr')!;
    expect(
      screen.getByRole('columnheader', { name: 'Active version' }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('columnheader', { name: 'Worst state' }),
    ).toBeInTheDocument();
    expect(row).toHaveTextContent('1.0Approved');
    const worst = within(row).getByTestId('worst-state');
    expect(worst).toHaveTextContent(
      '2.0In reviewcheck failed (model-hub.safety)',
    );
    expect(worst).toHaveAttribute(
      'title',
      'Version 2.0 is in review with failed checks: model-hub.safety',
    );
  });

  it('filters by namespace', async () => {
    const api = modelHubApiMock({
      listNamespaces: async () => [
        { namespace: 'default', count: 3 },
        { namespace: 'research', count: 2 },
      ],
    });
    await render(api);
    await waitFor(() => expect(api.listModels).toHaveBeenCalledTimes(1), slow);
    fireEvent.mouseDown(screen.getByLabelText('Namespace'));
    fireEvent.click(
      await screen.findByRole('option', { name: 'research' }, slow),
    );
    await waitFor(
      () =>
        expect(api.listModels).toHaveBeenLastCalledWith(
          expect.objectContaining({ offset: 0, namespace: ['research'] }),
        ),
      slow,
    );
  });
});
