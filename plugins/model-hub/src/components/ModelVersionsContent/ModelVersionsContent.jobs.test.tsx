import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { signalApiRef } from '@backstage/plugin-signals-react';
import {
  EntityProvider,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import { ModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
import { act, configure, screen, waitFor } from '@testing-library/react';
import { HubJob, modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { ModelVersionsContent } from './ModelVersionsContent';

// The model page follows its own jobs on the jobs signals channel: their
// progress, and the versions and files a job adds when it ends.

const entity: ModelEntity = {
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'tiny-llm', namespace: 'default' },
  spec: {
    type: 'llm',
    lifecycle: 'experimental',
    owner: 'group:default/ml-engineers',
    source: { huggingface: { repo: 'acme/tiny-llm' } },
  },
};

jest.setTimeout(60_000);
// the machine running the tests is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

function fakeSignals() {
  const listeners: Array<{ channel: string; fn: (m: any) => void }> = [];
  return {
    api: {
      subscribe(channel: string, fn: (m: any) => void) {
        const listener = { channel, fn };
        listeners.push(listener);
        return {
          unsubscribe: () => {
            listeners.splice(listeners.indexOf(listener), 1);
          },
        };
      },
    },
    publish(channel: string, message: unknown) {
      listeners.filter(l => l.channel === channel).forEach(l => l.fn(message));
    },
  };
}

/** Renders the page; without `signals` the app has no signals plugin. */
function render(
  api: ReturnType<typeof modelHubApiMock>,
  signals?: ReturnType<typeof fakeSignals>,
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
        ...(signals ? [[signalApiRef, signals.api] as const] : []),
      ]}
    >
      <EntityProvider entity={entity}>
        <ModelVersionsContent />
      </EntityProvider>
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

const page = (items: HubJob[]) => ({
  items,
  totalCount: items.length,
  offset: 0,
  limit: 50,
});

/** A download job's signal: `bytes` of 4096 done. */
const downloadSignal = (
  jobId: string,
  modelId: string,
  state: string,
  bytes: number,
) => ({
  jobId,
  modelId,
  type: 'huggingface-download',
  state,
  progress: { bytes, totalBytes: 4096 },
});

/** Lets the effects of a signal run (to see that nothing happened). */
const settle = () => act(() => new Promise(r => setTimeout(r, 200)));

const progressOf = (jobId: string) =>
  screen.getByLabelText(`Progress of job ${jobId}`);

describe('ModelVersionsContent jobs', () => {
  const v1 = modelHubFixtures.version({ label: '1.0', state: 'approved' });
  const v2 = modelHubFixtures.version({ label: '2.0', state: 'draft' });
  const download = modelHubFixtures.job({
    id: 'job-1',
    type: 'huggingface-download',
    state: 'running',
    progress: { bytes: 1024, totalBytes: 4096 },
  });

  /**
   * The page of a model with version 1.0 and a running download at 25%,
   * with signals; `answers` is what the API answers from then on.
   */
  async function renderWithDownload() {
    const answers = { jobs: [download], versions: [v1] };
    const api = modelHubApiMock({
      getModel: async () =>
        modelHubFixtures.model({ versions: answers.versions }),
      listFiles: async () => modelHubFixtures.files(),
      listJobs: async () => page(answers.jobs),
    });
    const signals = fakeSignals();
    await render(api, signals);
    await waitFor(() =>
      expect(progressOf('job-1')).toHaveAttribute('aria-valuenow', '25'),
    );
    return { api, signals, answers };
  }

  it("applies the signals of this model's jobs and ignores other models'", async () => {
    // the page lists the model's active jobs (the list records the watch)
    const { api, signals, answers } = await renderWithDownload();
    expect(api.listJobs).toHaveBeenCalledWith({
      model: 'model:default/tiny-llm',
      state: ['queued', 'running'],
      limit: 50,
    });
    expect(screen.getByText('Live')).toBeInTheDocument();
    await screen.findByText('config.json');
    const calls = () => ({
      getModel: api.getModel.mock.calls.length,
      listJobs: api.listJobs.mock.calls.length,
      listFiles: api.listFiles.mock.calls.length,
    });
    const before = calls();

    // progress of this model's job
    act(() =>
      signals.publish(
        'model-hub:jobs',
        downloadSignal('job-1', 'id-tiny-llm', 'running', 3072),
      ),
    );
    await waitFor(() =>
      expect(progressOf('job-1')).toHaveAttribute('aria-valuenow', '75'),
    );

    // another model's job, running and ending: nothing changes or reloads
    for (const state of ['running', 'succeeded']) {
      act(() =>
        signals.publish(
          'model-hub:jobs',
          downloadSignal('job-9', 'id-other-llm', state, 4000),
        ),
      );
      await settle();
    }
    expect(
      screen.queryByLabelText('Progress of job job-9'),
    ).not.toBeInTheDocument();
    expect(progressOf('job-1')).toHaveAttribute('aria-valuenow', '75');
    expect(calls()).toEqual(before);

    // this model's job ends: its new version and the files are fetched
    answers.jobs = [];
    answers.versions = [v2, v1];
    act(() =>
      signals.publish(
        'model-hub:jobs',
        downloadSignal('job-1', 'id-tiny-llm', 'succeeded', 4096),
      ),
    );
    const table = await screen.findByRole('table', { name: 'Versions' });
    await waitFor(() => expect(table).toHaveTextContent(/2\.0\s*Draft/));
    await waitFor(() =>
      expect(api.listFiles.mock.calls.length).toBeGreaterThan(before.listFiles),
    );
    // the ended job leaves the page once listed again
    await waitFor(() =>
      expect(
        screen.queryByLabelText('Progress of job job-1'),
      ).not.toBeInTheDocument(),
    );
    expect(api.getModel.mock.calls.length).toBe(before.getModel + 1);
  });

  it('handles every signal, also two that come before the page renders again', async () => {
    const { api, signals, answers } = await renderWithDownload();
    await screen.findByText('config.json');
    const getModelCalls = api.getModel.mock.calls.length;

    // this model's job ends and, in the same tick, another model's job
    // reports progress: the end must not be lost behind the later signal
    answers.jobs = [];
    answers.versions = [v2, v1];
    act(() => {
      signals.publish(
        'model-hub:jobs',
        downloadSignal('job-1', 'id-tiny-llm', 'succeeded', 4096),
      );
      signals.publish(
        'model-hub:jobs',
        downloadSignal('job-9', 'id-other-llm', 'running', 10),
      );
    });
    const table = await screen.findByRole('table', { name: 'Versions' });
    await waitFor(() => expect(table).toHaveTextContent(/2\.0\s*Draft/));
    expect(api.getModel.mock.calls.length).toBe(getModelCalls + 1);
    expect(
      screen.queryByLabelText('Progress of job job-9'),
    ).not.toBeInTheDocument();
  });

  it('shows a job of this model queued elsewhere when its first signal comes', async () => {
    let jobs: HubJob[] = [];
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions: [v1] }),
      listFiles: async () => modelHubFixtures.files(),
      listJobs: async () => page(jobs),
    });
    const signals = fakeSignals();
    await render(api, signals);
    await screen.findByText('config.json');
    await waitFor(() => expect(api.listJobs).toHaveBeenCalledTimes(1));
    expect(screen.queryByText('Jobs')).not.toBeInTheDocument();

    // another model's new job is not listed for
    act(() =>
      signals.publish('model-hub:jobs', {
        jobId: 'job-9',
        modelId: 'id-other-llm',
        type: 'huggingface-sync',
        state: 'running',
        progress: {},
      }),
    );
    await settle();
    expect(api.listJobs).toHaveBeenCalledTimes(1);

    jobs = [modelHubFixtures.job({ id: 'job-2', progress: { fraction: 0.4 } })];
    act(() =>
      signals.publish('model-hub:jobs', {
        jobId: 'job-2',
        modelId: 'id-tiny-llm',
        type: 'huggingface-sync',
        state: 'running',
        progress: { fraction: 0.4 },
      }),
    );
    await waitFor(() =>
      expect(progressOf('job-2')).toHaveAttribute('aria-valuenow', '40'),
    );
    expect(api.listJobs).toHaveBeenCalledTimes(2);
  });

  it('polls while a job runs where the app has no signals, and reloads when it ends', async () => {
    let jobs = [download];
    let versions = [v1];
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions }),
      listFiles: async () => modelHubFixtures.files(),
      listJobs: async () => page(jobs),
    });
    await render(api);
    await waitFor(() =>
      expect(progressOf('job-1')).toHaveAttribute('aria-valuenow', '25'),
    );
    expect(
      screen.getByText('Refreshing every 3 s while jobs run'),
    ).toBeInTheDocument();
    const getModelCalls = api.getModel.mock.calls.length;

    // the next list (in 3 s) no longer has it: the new version shows
    jobs = [];
    versions = [v2, v1];
    await waitFor(() =>
      expect(screen.getByRole('table', { name: 'Versions' })).toHaveTextContent(
        /2\.0\s*Draft/,
      ),
    );
    expect(api.getModel.mock.calls.length).toBe(getModelCalls + 1);
    expect(
      screen.queryByLabelText('Progress of job job-1'),
    ).not.toBeInTheDocument();
  });
});
