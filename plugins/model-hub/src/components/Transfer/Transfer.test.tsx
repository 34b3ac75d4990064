import {
  alertApiRef,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  MockFetchApi,
  mockApis,
  registerMswTestHooks,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { ExportVersionButton } from './ExportVersionButton';
import { ImportedEvidence } from './ImportedEvidence';

const base = 'http://backstage.test/api/model-hub';

const IMPORTED = {
  portal: 'portal-a',
  trustedKeyName: 'portal-a',
  keyId: `sha256:${'ab'.repeat(32)}`,
  indexDigest: `sha256:${'cd'.repeat(32)}`,
  manifestDigest: `sha256:${'ef'.repeat(32)}`,
  policy: 'trust',
  importedBy: 'user:default/dana',
  importedAt: '2026-12-02T11:00:00.000Z',
  evidence: {
    approvedDigest: `sha256:${'12'.repeat(32)}`,
    approvedBy: [
      { reviewer: 'user:default/bob', at: '2026-11-30T09:15:00.000Z' },
    ],
    checks: [{ name: 'model-hub.format', status: 'passed', required: true }],
    waivers: [],
  },
};

describe('Transfer components', () => {
  const server = setupServer();
  registerMswTestHooks(server);
  const alerts = { post: jest.fn(), alert$: jest.fn() };

  function render(element: JSX.Element, exportAllowed = true) {
    return renderInTestApp(
      <TestApiProvider
        apis={[
          [
            discoveryApiRef,
            mockApis.discovery({ baseUrl: 'http://backstage.test' }),
          ],
          [fetchApiRef, new MockFetchApi()],
          [alertApiRef, alerts],
          [
            permissionApiRef,
            mockApis.permission({
              authorize: () => (exportAllowed ? 'ALLOW' : 'DENY') as any,
            }),
          ],
        ]}
      >
        {element}
      </TestApiProvider>,
    );
  }

  it('shows the evidence of an imported version: approved on portal X by bob on …', async () => {
    server.use(
      http.get(`${base}/models/default/tiny/versions/v1/import-evidence`, () =>
        HttpResponse.json({ imported: IMPORTED }),
      ),
    );
    await render(<ImportedEvidence model="model:default/tiny" label="v1" />);
    expect(
      await screen.findByText(
        'Approved on portal portal-a by bob on 2026-11-30 09:15',
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/Imported by dana on 2026-12-02 11:00/),
    ).toBeInTheDocument();
    expect(screen.getByText(/model-hub\.format: passed/)).toBeInTheDocument();
  });

  it('renders nothing for a version made on this portal', async () => {
    let asked = false;
    server.use(
      http.get(
        `${base}/models/default/tiny/versions/v2/import-evidence`,
        () => {
          asked = true;
          return HttpResponse.json({ imported: null });
        },
      ),
    );
    const { container } = await render(
      <ImportedEvidence model="model:default/tiny" label="v2" />,
    );
    await waitFor(() => expect(asked).toBe(true));
    expect(container).toBeEmptyDOMElement();
  });

  it('exports an approved version as a bundle download', async () => {
    const bodies: unknown[] = [];
    server.use(
      http.post(`${base}/transfer/export`, async ({ request }) => {
        bodies.push(await request.json());
        return new HttpResponse(new Uint8Array(1024), {
          headers: { 'Content-Type': 'application/x-tar' },
        });
      }),
    );
    const createObjectURL = jest.fn(() => 'blob:bundle');
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(() => undefined);
    Object.assign(URL, { createObjectURL, revokeObjectURL: jest.fn() });
    await render(
      <ExportVersionButton
        model="model:default/tiny"
        version={{ label: 'v1', state: 'approved' }}
      />,
    );
    fireEvent.click(
      await screen.findByRole('button', { name: 'Export bundle' }),
    );
    await waitFor(() =>
      expect(alerts.post).toHaveBeenCalledWith(
        expect.objectContaining({ severity: 'success' }),
      ),
    );
    expect(bodies).toEqual([
      { versions: [{ model: 'model:default/tiny', version: 'v1' }] },
    ]);
    expect(createObjectURL).toHaveBeenCalledTimes(1);
    expect(click).toHaveBeenCalledTimes(1);
  });

  it('is not offered for a draft', async () => {
    await render(
      <>
        <ExportVersionButton
          model="model:default/other"
          version={{ label: 'v3', state: 'draft' }}
        />
        <span>rendered</span>
      </>,
    );
    await screen.findByText('rendered');
    expect(screen.queryByRole('button', { name: 'Export bundle' })).toBeNull();
  });
});
