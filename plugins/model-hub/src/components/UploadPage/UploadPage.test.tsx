import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { identityApiRef } from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { UploadCallbacks, Uploader, uploadFingerprint } from './tusUploader';
import { UploadPage } from './UploadPage';

function fakeUploader(
  interrupted: Awaited<ReturnType<Uploader['findInterrupted']>> = [],
) {
  const created: Array<{
    metadata: Record<string, string>;
    callbacks: UploadCallbacks;
    task: {
      start: jest.Mock;
      pause: jest.Mock;
      abort: jest.Mock;
      resumedAt: number;
    };
    token?: string;
  }> = [];
  const uploader: Uploader = {
    async create({ metadata, callbacks, getToken, endpoint }) {
      expect(endpoint).toBe('http://localhost:7007/api/model-hub/uploads');
      const task = {
        resumedAt: 0,
        start: jest.fn(),
        pause: jest.fn(async () => {}),
        abort: jest.fn(async () => {}),
      };
      created.push({ metadata, callbacks, task, token: await getToken() });
      return task;
    },
    async createPackage({ url, callbacks }) {
      const task = {
        resumedAt: 0,
        start: jest.fn(),
        pause: jest.fn(async () => {}),
        abort: jest.fn(async () => {}),
      };
      created.push({ metadata: { url }, callbacks, task });
      return task;
    },
    findInterrupted: jest.fn(async () => interrupted),
    forget: jest.fn(async () => {}),
  };
  return { uploader, created };
}

const model = modelHubFixtures.model({
  versions: [
    modelHubFixtures.version({
      label: '2.0',
      state: 'draft',
      revision: 7,
      fileCount: 0,
    }),
    modelHubFixtures.version({ label: '1.0', state: 'approved' }),
  ],
});

function render(
  api: ReturnType<typeof modelHubApiMock>,
  uploader: Uploader,
  entry = '/upload?model=model%3Adefault%2Ftiny-llm&version=2.0',
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
        [identityApiRef, mockApis.identity({ token: 'secret-token' })],
      ]}
    >
      <UploadPage uploader={uploader} />
    </TestApiProvider>,
    {
      routeEntries: [entry],
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

describe('UploadPage', () => {
  it('shows progress while the model loads', async () => {
    const api = modelHubApiMock({ getModel: () => new Promise(() => {}) });
    await render(api, fakeUploader().uploader);
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('shows an empty state without models', async () => {
    await render(modelHubApiMock(), fakeUploader().uploader, '/upload');
    expect(
      await screen.findByText('No models to upload to'),
    ).toBeInTheDocument();
    expect(
      screen.getByText('Choose a model and a draft version first'),
    ).toBeInTheDocument();
  });

  it('shows an error loading the model', async () => {
    const api = modelHubApiMock({
      getModel: async () => {
        throw new Error('no hub');
      },
    });
    await render(api, fakeUploader().uploader);
    expect((await screen.findAllByText(/no hub/)).length).toBeGreaterThan(0);
  });

  it('uploads with progress, speed and ETA, pauses, resumes and submits', async () => {
    const { uploader, created } = fakeUploader();
    const api = modelHubApiMock({
      getModel: async () => model,
      getVersion: async () => model.versions[0],
    });
    await render(api, uploader);
    expect(
      await screen.findByText(
        'Drop files or a ZIP package here, or click to choose',
      ),
    ).toBeInTheDocument();

    const file = new File(['x'.repeat(1000)], 'model.safetensors');
    fireEvent.change(screen.getByTestId('file-input'), {
      target: { files: [file] },
    });
    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0].metadata).toEqual({
      model: 'model:default/tiny-llm',
      version: '2.0',
      path: 'model.safetensors',
      filename: 'model.safetensors',
    });
    expect(created[0].token).toBe('secret-token');
    await waitFor(() => expect(created[0].task.start).toHaveBeenCalled());

    const now = Date.now();
    const spy = jest.spyOn(Date, 'now');
    spy.mockReturnValue(now + 1000);
    act(() => created[0].callbacks.onProgress(500, 1000));
    spy.mockRestore();
    expect(
      screen.getByLabelText('Progress of model.safetensors'),
    ).toHaveAttribute('aria-valuenow', '50');
    expect(screen.getByText('50% (500 B)')).toBeInTheDocument();
    expect(screen.getByText(/B\/s$/)).toBeInTheDocument();

    fireEvent.click(screen.getByLabelText('Pause model.safetensors'));
    await waitFor(() => expect(created[0].task.pause).toHaveBeenCalled());
    expect(screen.getByText('Paused')).toBeInTheDocument();
    fireEvent.click(screen.getByLabelText('Resume model.safetensors'));
    expect(created[0].task.start).toHaveBeenCalledTimes(2);

    act(() => created[0].callbacks.onSuccess());
    expect(screen.getByText('Done')).toBeInTheDocument();
    expect(screen.getByText('1 of 1 files uploaded')).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Submit for review' }));
    await waitFor(() =>
      expect(api.submitVersion).toHaveBeenCalledWith(
        'model:default/tiny-llm',
        '2.0',
        { revision: 7 },
      ),
    );
  });

  it('imports ZIP packages as new versions and lists interrupted uploads', async () => {
    const { uploader, created } = fakeUploader([
      {
        key: 'tus::k1',
        filename: 'big.bin',
        path: 'big.bin',
        model: 'model:default/tiny-llm',
        version: '2.0',
        size: 2048,
        creationTime: '2026-01-01',
      },
    ]);
    await render(modelHubApiMock({ getModel: async () => model }), uploader);
    const list = await screen.findByRole('list', {
      name: 'Interrupted uploads',
    });
    expect(list).toHaveTextContent('big.bin (2.0 KiB) into tiny-llm 2.0');

    await screen.findByText(
      'Drop files or a ZIP package here, or click to choose',
    );
    fireEvent.change(
      screen.getByLabelText('Package version label (optional)'),
      {
        target: { value: '3.0' },
      },
    );
    fireEvent.change(screen.getByTestId('file-input'), {
      target: { files: [new File(['PK'], 'package.zip')] },
    });
    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0].metadata).toEqual({
      url: 'http://localhost:7007/api/model-hub/models/default/tiny-llm/packages?label=3.0',
    });
    expect(screen.getByText('package.zip (package)')).toBeInTheDocument();
  });

  it('keys resumable uploads by target, path, size and date', () => {
    const file = new File(['abc'], 'a.bin', { lastModified: 42 });
    expect(
      uploadFingerprint(file, {
        model: 'model:default/m',
        version: '1',
        path: 'x/a.bin',
        filename: 'a.bin',
      }),
    ).toBe('model-hub::model:default/m::1::x/a.bin::3::42');
  });
});
