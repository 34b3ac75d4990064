import { ResponseError } from '@backstage/errors';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import {
  configure,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import { HubJob, modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { LocalScanPage } from './LocalScanPage';
import { scanProgress } from './LocalScanPage';

jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

const SCAN_ID = '0f8e7d6c-1111-4222-8333-444455556666';

function scanJob(overrides: Partial<HubJob> = {}): HubJob {
  return modelHubFixtures.job({
    id: SCAN_ID,
    type: 'local-scan',
    modelRef: undefined,
    params: { path: 'acme' },
    state: 'running',
    progress: {
      phase: 'hashing',
      folders: { total: 2, done: 1 },
      files: { total: 4, done: 2 },
      bytes: { total: 4096, done: 1024 },
      current: 'acme/tiny-llm/model.safetensors',
      models: [],
      skipped: [],
    },
    ...overrides,
  });
}

async function responseError(status: number, message: string) {
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: {
          name: status === 409 ? 'ConflictError' : 'InputError',
          message,
        },
        response: { statusCode: status },
      }),
      {
        status,
        statusText: status === 409 ? 'Conflict' : 'Bad Request',
        headers: { 'content-type': 'application/json' },
      },
    ) as any,
  );
}

function render(api: ReturnType<typeof modelHubApiMock>) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
      ]}
    >
      <LocalScanPage />
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

describe('LocalScanPage', () => {
  it('computes the progress of a scan from what it reports', () => {
    expect(scanProgress(scanJob())).toMatchObject({
      fraction: 0.25,
      text: 'Hashing, 1/2 folders, 2/4 files, 1.0 KiB of 4.0 KiB',
      current: 'acme/tiny-llm/model.safetensors',
    });
    expect(scanProgress(scanJob({ state: 'succeeded' })).fraction).toBe(1);
  });

  it('starts a scan and follows it to the end, with its log', async () => {
    let polls = 0;
    const api = modelHubApiMock({
      startLocalScan: async () => ({ jobId: SCAN_ID, job: scanJob() }),
      getJob: async () => {
        polls += 1;
        return polls < 2
          ? scanJob()
          : scanJob({
              state: 'succeeded',
              finishedAt: '2026-01-02T00:05:00.000Z',
              progress: {
                phase: 'done',
                files: { total: 4, done: 4 },
                bytes: { total: 4096, done: 4096 },
                models: [
                  {
                    path: 'acme/tiny-llm',
                    modelRef: 'model:default/tiny-llm',
                    version: 'scan-1',
                    files: 4,
                    bytes: 4096,
                    created: true,
                  },
                ],
                skipped: ['acme/tiny-llm/.cache/lock'],
              },
            });
      },
      getJobLogs: async (_id, o) =>
        o?.after
          ? []
          : [
              {
                id: 1,
                createdAt: '2026-01-02T00:00:01.000Z',
                level: 'info',
                message: 'hashing acme/tiny-llm/model.safetensors',
              },
            ],
    });
    await render(api);
    expect(
      await screen.findByText(/Registers the models in/, {}, slow),
    ).toHaveTextContent('/srv/models');
    fireEvent.change(screen.getByLabelText('Folder'), {
      target: { value: 'acme' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Start scan' }));
    await waitFor(
      () =>
        expect(api.startLocalScan).toHaveBeenCalledWith({
          path: 'acme',
          owner: undefined,
        }),
      slow,
    );
    expect(
      await screen.findByText(
        '25% Hashing, 1/2 folders, 2/4 files, 1.0 KiB of 4.0 KiB',
        {},
        slow,
      ),
    ).toBeInTheDocument();
    expect(
      await screen.findByText(
        'hashing acme/tiny-llm/model.safetensors',
        { exact: false },
        slow,
      ),
    ).toBeInTheDocument();
    // polled until done
    const models = await screen.findByRole(
      'table',
      { name: 'Scanned models' },
      slow,
    );
    expect(
      within(models).getByRole('link', { name: 'tiny-llm' }),
    ).toHaveAttribute('href', '/catalog/default/model/tiny-llm');
    expect(models).toHaveTextContent('scan-1');
    expect(screen.getByRole('list', { name: 'Skipped' })).toHaveTextContent(
      'acme/tiny-llm/.cache/lock',
    );
    expect(api.getJob).toHaveBeenCalledWith(SCAN_ID);
  });

  it('follows the running scan on a conflict (409)', async () => {
    const api = modelHubApiMock({
      startLocalScan: async () => {
        throw await responseError(
          409,
          `A local scan is already running (job ${SCAN_ID})`,
        );
      },
      getJob: async () => scanJob(),
    });
    await render(api);
    fireEvent.click(
      await screen.findByRole('button', { name: 'Start scan' }, slow),
    );
    expect(await screen.findByRole('alert', {}, slow)).toHaveTextContent(
      `A scan is already queued or running; following it. A local scan is already running (job ${SCAN_ID})`,
    );
    await waitFor(() => expect(api.getJob).toHaveBeenCalledWith(SCAN_ID), slow);
    expect(
      await screen.findByText(`Scan ${SCAN_ID.slice(0, 8)}`, {}, slow),
    ).toBeInTheDocument();
  });

  it('shows the backend’s message for a bad folder', async () => {
    const api = modelHubApiMock({
      startLocalScan: async () => {
        throw await responseError(400, 'path must stay under the scan root');
      },
    });
    await render(api);
    fireEvent.change(await screen.findByLabelText('Folder', {}, slow), {
      target: { value: '../etc' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Start scan' }));
    expect(await screen.findByRole('alert', {}, slow)).toHaveTextContent(
      'path must stay under the scan root',
    );
  });

  it('says when local scanning is off', async () => {
    const api = modelHubApiMock({
      getScanStatus: async () => ({ enabled: false }),
    });
    await render(api);
    expect(
      await screen.findByText('Local scanning is off', {}, slow),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Start scan' }),
    ).not.toBeInTheDocument();
  });
});
