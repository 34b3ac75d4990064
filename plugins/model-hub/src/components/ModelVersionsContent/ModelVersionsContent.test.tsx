import { ResponseError } from '@backstage/errors';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  EntityProvider,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import { ModelEntity } from '@model-hub/backstage-plugin-model-hub-common';
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
import { ModelVersionsContent } from './ModelVersionsContent';
import { howToUseText } from './HowToUse';

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

// usePermission caches decisions per permission and resource for the whole
// test file, so tests with another decision use another model
function render(
  api: ReturnType<typeof modelHubApiMock>,
  result: 'ALLOW' | 'DENY' = 'ALLOW',
  name = 'tiny-llm',
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission({ authorize: result })],
      ]}
    >
      <EntityProvider
        entity={{ ...entity, metadata: { ...entity.metadata, name } }}
      >
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

// the machine running the tests is shared and loaded: wait generously
jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// every waitFor and findBy of this file: it was flaky under load at 1 s
configure({ asyncUtilTimeout: 15_000 });

const versions = [
  modelHubFixtures.version({ label: '2.0', state: 'draft', revision: 4 }),
  modelHubFixtures.version({ label: '1.0', state: 'approved' }),
];

describe('ModelVersionsContent', () => {
  it('shows progress while loading', async () => {
    await render(modelHubApiMock({ getModel: () => new Promise(() => {}) }));
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('lists versions and opens the newest approved one', async () => {
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions }),
      listFiles: async () => modelHubFixtures.files(),
    });
    await render(api);
    expect(
      await screen.findByText('Version 1.0', {}, slow),
    ).toBeInTheDocument();
    const table = screen.getByRole('table', { name: 'Versions' });
    expect(table).toHaveTextContent(/2\.0\s*Draft/);
    expect(table).toHaveTextContent(/1\.0\s*Approved/);
    expect(
      await screen.findByText('config.json', {}, slow),
    ).toBeInTheDocument();
    expect(api.getModel).toHaveBeenCalledWith('model:default/tiny-llm');
    expect(api.listFiles).toHaveBeenCalledWith('model:default/tiny-llm', '1.0');
    // approved versions cannot be submitted
    expect(
      screen.queryByRole('button', { name: 'Submit for review' }),
    ).not.toBeInTheDocument();
  });

  it('submits a draft with its revision', async () => {
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions }),
      listFiles: async () => modelHubFixtures.files(),
    });
    await render(api);
    fireEvent.click(await screen.findByText('2.0', {}, slow));
    expect(
      await screen.findByText('Version 2.0', {}, slow),
    ).toBeInTheDocument();
    expect(screen.getByText('Upload files').closest('a')).toHaveAttribute(
      'href',
      '/model-hub/upload?model=model%3Adefault%2Ftiny-llm&version=2.0',
    );
    const submit = screen.getByRole('button', { name: 'Submit for review' });
    await waitFor(() => expect(submit).toBeEnabled(), slow);
    fireEvent.click(submit);
    fireEvent.click(
      within(await screen.findByRole('dialog', {}, slow)).getByRole('button', {
        name: 'Submit for review',
      }),
    );
    await waitFor(
      () =>
        expect(api.submitVersion).toHaveBeenCalledWith(
          'model:default/tiny-llm',
          '2.0',
          { revision: 4 },
        ),
      slow,
    );
  });

  it('fetches remote files of a synced version from Hugging Face', async () => {
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions }),
      listFiles: async () => ({
        files: [modelHubFixtures.files().files[0]],
        tree: {
          type: 'directory',
          name: '',
          path: '',
          children: [
            {
              type: 'file',
              name: 'README.md',
              ...modelHubFixtures.files().files[0],
            },
          ],
        },
      }),
      getHuggingFaceRepo: async repoId =>
        modelHubFixtures.hfRepo({
          repoId,
          files: [
            { path: 'README.md', size: 100, oid: 'o1' },
            { path: 'weights/model.safetensors', size: 4096, oid: 'o2' },
          ],
        }),
    });
    await render(api);
    fireEvent.click(
      await screen.findByLabelText('Fetch weights from Hugging Face', {}, slow),
    );
    await waitFor(() =>
      expect(api.downloadFromHuggingFace).toHaveBeenCalledWith(
        'acme/tiny-llm',
        { version: '1.0', files: ['weights/model.safetensors'] },
      ),
    );
  });

  it('hides and disables actions the user may not perform', async () => {
    const api = modelHubApiMock({
      getModel: async () => modelHubFixtures.model({ versions }),
      listFiles: async () => modelHubFixtures.files(),
    });
    await render(api, 'DENY', 'denied-llm');
    expect(
      await screen.findByText('Version 1.0', {}, slow),
    ).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'New version' })).toBeDisabled();
    expect(
      screen.queryByRole('button', { name: 'Sync from Hugging Face' }),
    ).not.toBeInTheDocument();
    expect(
      await screen.findByLabelText('Download README.md', {}, slow),
    ).toBeDisabled();
  });

  it('shows an empty state when the hub has no versions of the model (404)', async () => {
    const api = modelHubApiMock({
      getModel: async () => {
        throw await ResponseError.fromResponse(
          new Response('{}', { status: 404, statusText: 'Not Found' }) as any,
        );
      },
    });
    await render(api);
    expect(
      await screen.findByText('No versions yet', {}, slow),
    ).toBeInTheDocument();
    // enabled once the permission decision has arrived
    await waitFor(() =>
      expect(screen.getByRole('button', { name: 'New version' })).toBeEnabled(),
    );
    fireEvent.click(screen.getByRole('button', { name: 'New version' }));
    fireEvent.change(screen.getByLabelText('Version label'), {
      target: { value: '0.1' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() =>
      expect(api.createVersion).toHaveBeenCalledWith('model:default/tiny-llm', {
        label: '0.1',
        notes: undefined,
      }),
    );
  });

  it('shows a model the catalog dropped as read-only, and lets admins delete it after confirmation', async () => {
    let deleted = false;
    const deleteModel = jest.fn(async () => {
      deleted = true;
    });
    const getModel = jest.fn(async () => {
      if (deleted) {
        throw await ResponseError.fromResponse(
          new Response('{}', { status: 404, statusText: 'Not Found' }) as any,
        );
      }
      return modelHubFixtures.model({
        name: 'dropped-llm',
        entityRef: 'model:default/dropped-llm',
        origin: 'catalog',
        orphanedAt: '2026-01-05T00:00:00.000Z',
        versions,
      });
    });
    const api = modelHubApiMock({ getModel, deleteModel });
    await render(api, 'ALLOW', 'dropped-llm');
    expect(
      await screen.findByText('Warning: Removed from the catalog', {}, slow),
    ).toBeInTheDocument();

    // the button waits for the (async) admin permission decision
    fireEvent.click(
      await screen.findByRole('button', { name: 'Delete model' }, slow),
    );
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('Delete model dropped-llm?');
    fireEvent.click(
      Array.from(dialog.querySelectorAll('button')).find(
        b => b.textContent === 'Delete model',
      )!,
    );
    await waitFor(() =>
      expect(deleteModel).toHaveBeenCalledWith('model:default/dropped-llm'),
    );
    // reloaded: the hub no longer has it
    expect(
      await screen.findByText('No versions yet', {}, slow),
    ).toBeInTheDocument();
  });

  it('deletes the selected draft version after confirmation', async () => {
    const deleteVersion = jest.fn(async () => undefined);
    const getModel = jest.fn(async () =>
      modelHubFixtures.model({ name: 'draft-llm', versions }),
    );
    const api = modelHubApiMock({ getModel, deleteVersion });
    await render(api, 'ALLOW', 'draft-llm');
    fireEvent.click(
      (await screen.findByRole('table', { name: 'Versions' })).querySelector(
        '[data-version="2.0"]',
      )!,
    );
    expect(
      await screen.findByText('Version 2.0', {}, slow),
    ).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Delete version' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(
      Array.from(dialog.querySelectorAll('button')).find(
        b => b.textContent === 'Delete version',
      )!,
    );
    await waitFor(() =>
      expect(deleteVersion).toHaveBeenCalledWith(
        'model:default/draft-llm',
        '2.0',
      ),
    );
    await waitFor(() => expect(getModel).toHaveBeenCalledTimes(2));
  });

  it('shows the active version, the drift banner and the sync error', async () => {
    const drift = modelHubFixtures.version({
      label: 'hf-0123456789ab',
      state: 'in_review',
      resolvedCommit: 'fedcba9876543210fedcba9876543210fedcba98',
      createdAt: '2026-01-06T00:00:00.000Z',
    });
    const api = modelHubApiMock({
      getModel: async () => ({
        ...modelHubFixtures.model({
          name: 'drift-llm',
          versions: [drift, ...versions],
        }),
        sync: {
          repoId: 'acme/tiny-llm',
          revision: 'main',
          syncState: 'failed',
          lastSyncedCommit: '0123456789abcdef0123456789abcdef01234567',
          upstreamCommit: 'fedcba9876543210fedcba9876543210fedcba98',
          drift: false,
          lastError: 'Upstream answered 500',
          lastErrorAt: '2026-01-06T01:00:00.000Z',
          driftVersion: {
            label: 'hf-0123456789ab',
            state: 'in_review',
            commit: 'fedcba9876543210fedcba9876543210fedcba98',
            baseLabel: '1.0',
            status: 'submitted',
          },
        },
      }),
      getActiveVersion: async () => ({
        active: {
          versionId: 'v-1.0',
          label: '1.0',
          state: 'approved',
          promotedBy: 'user:default/alice',
          promotedAt: '2026-01-03T00:00:00.000Z',
        },
        history: [],
      }),
    });
    await render(api, 'ALLOW', 'drift-llm');
    const banner = await screen.findByTestId('drift-banner', {}, slow);
    expect(banner).toHaveTextContent(
      'Upstream acme/tiny-llm@main moved to fedcba987654',
    );
    expect(banner).toHaveTextContent(
      'version hf-0123456789ab is in review — diff against 1.0.',
    );
    expect(screen.getByTestId('sync-error')).toHaveTextContent(
      'Last sync failedUpstream answered 500',
    );
    expect(
      await screen.findByTestId('active-version', {}, slow),
    ).toHaveTextContent('Active version: 1.0, promoted by alice');
    fireEvent.click(
      screen.getByRole('button', { name: 'Review version hf-0123456789ab' }),
    );
    expect(
      await screen.findByText('Version hf-0123456789ab', {}, slow),
    ).toBeInTheDocument();
    expect(
      await screen.findByRole('button', { name: 'Approve' }, slow),
    ).toBeInTheDocument();
  });

  it('shows errors', async () => {
    const api = modelHubApiMock({
      getModel: async () => {
        throw new Error('hub unavailable');
      },
    });
    await render(api);
    expect(
      (await screen.findAllByText(/hub unavailable/)).length,
    ).toBeGreaterThan(0);
  });

  it('builds a pinned how-to-use snippet', () => {
    const text = howToUseText({
      mirror: 'http://localhost:7007/api/model-hub/hf',
      repo: 'default/tiny-llm',
      revision: 'abc123',
      fileUrl: 'http://x/files/model.safetensors',
      filePath: 'weights/model.safetensors',
    });
    expect(text).toContain(
      'export HF_ENDPOINT=http://localhost:7007/api/model-hub/hf',
    );
    expect(text).toContain(
      'huggingface-cli download default/tiny-llm --revision abc123',
    );
    expect(text).toContain('-o model.safetensors');
  });
});
