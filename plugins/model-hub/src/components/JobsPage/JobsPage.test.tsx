import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { signalApiRef } from '@backstage/plugin-signals-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { JobsPage } from './JobsPage';
import { jobProgress } from './jobProgress';

function fakeSignals() {
  const listeners: Array<{ channel: string; fn: (m: any) => void }> = [];
  return {
    api: {
      subscribe(channel: string, fn: (m: any) => void) {
        listeners.push({ channel, fn });
        return { unsubscribe: () => {} };
      },
    },
    publish(channel: string, message: unknown) {
      listeners.filter(l => l.channel === channel).forEach(l => l.fn(message));
    },
  };
}

function render(
  api: ReturnType<typeof modelHubApiMock>,
  signals = fakeSignals(),
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
        [signalApiRef, signals.api],
      ]}
    >
      <JobsPage />
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

describe('JobsPage', () => {
  it('computes progress from what executors report', () => {
    expect(
      jobProgress({
        state: 'running',
        progress: {
          bytes: 1024,
          totalBytes: 4096,
          filesDone: 1,
          filesTotal: 3,
          rate: 512,
          etaSeconds: 6,
          file: 'model.safetensors',
        },
      }),
    ).toEqual({
      fraction: 0.25,
      text: '1.0 KiB of 4.0 KiB, 1/3 files, 512 B/s, ETA 6s, model.safetensors',
    });
    expect(jobProgress({ state: 'queued', progress: {} })).toEqual({
      fraction: undefined,
      text: '',
    });
  });

  it('shows progress while loading, then an empty state', async () => {
    await render(modelHubApiMock({ listJobs: () => new Promise(() => {}) }));
    expect(screen.getByTestId('progress')).toBeInTheDocument();
    await render(modelHubApiMock());
    expect(await screen.findByText('No jobs')).toBeInTheDocument();
  });

  it('shows errors', async () => {
    await render(
      modelHubApiMock({
        listJobs: async () => {
          throw new Error('jobs broke');
        },
      }),
    );
    expect((await screen.findAllByText(/jobs broke/)).length).toBeGreaterThan(
      0,
    );
  });

  it('shows jobs with live progress and logs, and cancels a running job', async () => {
    const running = modelHubFixtures.job({
      id: 'job-1',
      progress: { bytes: 1024, totalBytes: 4096 },
    });
    const failed = modelHubFixtures.job({
      id: 'job-2',
      state: 'failed',
      error: 'upstream 503',
      progress: {},
    });
    const api = modelHubApiMock({
      listJobs: async () => ({
        items: [running, failed],
        totalCount: 2,
        offset: 0,
        limit: 25,
      }),
      getJobLogs: async (_id, o) =>
        o?.after
          ? [
              {
                id: 2,
                level: 'info',
                message: 'second',
                createdAt: '2026-01-02T00:00:01Z',
              },
            ]
          : [
              {
                id: 1,
                level: 'info',
                message: 'first',
                createdAt: '2026-01-02T00:00:00Z',
              },
            ],
    });
    const signals = fakeSignals();
    await render(api, signals);
    await screen.findByRole('table', { name: 'Jobs' });
    // the row and the details panel of the selected job both show it
    expect(
      screen.getAllByLabelText('Progress of job job-1')[0],
    ).toHaveAttribute('aria-valuenow', '25');
    expect(await screen.findByLabelText('Job log')).toHaveTextContent('first');

    act(() =>
      signals.publish('model-hub:jobs', {
        jobId: 'job-1',
        state: 'running',
        progress: { bytes: 3072, totalBytes: 4096 },
      }),
    );
    await waitFor(() =>
      expect(
        screen.getAllByLabelText('Progress of job job-1')[0],
      ).toHaveAttribute('aria-valuenow', '75'),
    );
    await waitFor(() =>
      expect(screen.getByLabelText('Job log')).toHaveTextContent(
        /first.*second/s,
      ),
    );
    expect(api.getJobLogs).toHaveBeenLastCalledWith('job-1', {
      after: 1,
      limit: 500,
    });

    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(api.cancelJob).toHaveBeenCalledWith('job-1'));
  });

  it('applies every signal, also two that come in the same tick', async () => {
    const one = modelHubFixtures.job({
      id: 'job-1',
      progress: { bytes: 1024, totalBytes: 4096 },
    });
    const two = modelHubFixtures.job({
      id: 'job-2',
      progress: { bytes: 1024, totalBytes: 4096 },
    });
    let items = [one, two];
    const api = modelHubApiMock({
      listJobs: async () => ({ items, totalCount: 2, offset: 0, limit: 25 }),
    });
    const signals = fakeSignals();
    await render(api, signals);
    await screen.findByRole('table', { name: 'Jobs' });
    const listed = api.listJobs.mock.calls.length;

    // job-1 ends and job-2 moves on before the page renders again
    items = [{ ...one, state: 'succeeded' }, two];
    act(() => {
      signals.publish('model-hub:jobs', {
        jobId: 'job-1',
        state: 'succeeded',
        progress: { bytes: 4096, totalBytes: 4096 },
      });
      signals.publish('model-hub:jobs', {
        jobId: 'job-2',
        state: 'running',
        progress: { bytes: 2048, totalBytes: 4096 },
      });
    });
    await waitFor(() =>
      expect(
        screen.getAllByLabelText('Progress of job job-2')[0],
      ).toHaveAttribute('aria-valuenow', '50'),
    );
    // the end of job-1 was seen: the page listed the jobs again
    await waitFor(() =>
      expect(api.listJobs.mock.calls.length).toBe(listed + 1),
    );
  });

  it('retries a failed job', async () => {
    const api = modelHubApiMock({
      listJobs: async () => ({
        items: [
          modelHubFixtures.job({ id: 'job-3', state: 'failed', error: 'boom' }),
        ],
        totalCount: 1,
        offset: 0,
        limit: 25,
      }),
    });
    await render(api);
    expect(await screen.findByText('boom')).toBeInTheDocument();
    const retry = screen.getByRole('button', { name: 'Retry' });
    await waitFor(() => expect(retry).toBeEnabled());
    fireEvent.click(retry);
    await waitFor(() => expect(api.retryJob).toHaveBeenCalledWith('job-3'));
  });

  it('lists the registrations whose last sync failed, with the error', async () => {
    const api = modelHubApiMock({
      listHuggingFaceRepos: async () => ({
        items: [
          modelHubFixtures.hfRepo({
            syncState: 'failed',
            lastError: 'Upstream answered 503 Service Unavailable',
            lastErrorAt: '2026-01-06T01:00:00.000Z',
          }),
        ],
        totalCount: 1,
        offset: 0,
        limit: 50,
      }),
    });
    await render(api);
    const table = await screen.findByRole(
      'table',
      { name: 'Sync errors' },
      { timeout: 15_000 },
    );
    expect(table).toHaveTextContent('acme/tiny-llm@main');
    expect(table).toHaveTextContent(
      'Upstream answered 503 Service Unavailable',
    );
    expect(screen.getByRole('link', { name: 'tiny-llm' })).toHaveAttribute(
      'href',
      '/catalog/default/model/tiny-llm',
    );
    expect(api.listHuggingFaceRepos).toHaveBeenCalledWith({
      syncState: ['failed'],
      limit: 50,
    });
  });
});
