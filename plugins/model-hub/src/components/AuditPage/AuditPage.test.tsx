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
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock } from '../../testUtils';
import { AuditPage } from './AuditPage';

jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

const entries = [
  {
    id: 12,
    eventId: 'version-approve',
    actor: 'user:default/bob',
    modelRef: 'model:default/tiny-llm',
    versionLabel: '2.0',
    meta: { from: 'in_review', to: 'approved', comment: 'LGTM' },
    createdAt: '2026-01-05T10:00:00.000Z',
  },
  {
    id: 11,
    eventId: 'check-waive',
    actor: 'user:default/admin',
    modelRef: 'model:default/tiny-llm',
    versionLabel: '2.0',
    meta: { check: 'model-hub.safety', reason: 'vetted' },
    createdAt: '2026-01-05T09:00:00.000Z',
  },
];

function render(api: ReturnType<typeof modelHubApiMock>) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
      ]}
    >
      <AuditPage />
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

describe('AuditPage', () => {
  it('lists the audit trail and searches it by actor, model, event and date', async () => {
    const api = modelHubApiMock({
      listAudit: async () => ({
        items: entries,
        totalCount: 2,
        offset: 0,
        limit: 50,
      }),
      listAuditEvents: async () => ['check-waive', 'version-approve'],
    });
    await render(api);
    const table = await screen.findByRole(
      'table',
      { name: 'Audit trail' },
      slow,
    );
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('version-approvebobtiny-llm2.0');
    expect(rows[1]).toHaveTextContent('in_review → approved; comment: LGTM');
    expect(rows[2]).toHaveTextContent('check: model-hub.safety');
    expect(api.listAudit).toHaveBeenLastCalledWith({
      offset: 0,
      limit: 50,
    });

    fireEvent.change(screen.getByLabelText('Actor'), {
      target: { value: 'bob' },
    });
    fireEvent.change(screen.getByLabelText('Model'), {
      target: { value: 'tiny-llm' },
    });
    fireEvent.change(screen.getByLabelText('From'), {
      target: { value: '2026-01-01' },
    });
    fireEvent.change(screen.getByLabelText('To'), {
      target: { value: '2026-01-31' },
    });
    fireEvent.mouseDown(screen.getByLabelText('Event'));
    fireEvent.click(
      await screen.findByRole('option', { name: 'version-approve' }, slow),
    );
    await waitFor(
      () =>
        expect(api.listAudit).toHaveBeenLastCalledWith({
          actor: ['user:default/bob'],
          model: ['model:default/tiny-llm'],
          event: ['version-approve'],
          from: '2026-01-01',
          to: '2026-01-31',
          offset: 0,
          limit: 50,
        }),
      slow,
    );
  });

  it('exports the filtered trail as CSV', async () => {
    const createObjectURL = jest.fn(() => 'blob:audit');
    const revokeObjectURL = jest.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(() => {});
    const blob = new Blob([
      'id,createdAt,eventId\n12,2026-01-05,version-approve\n',
    ]);
    const api = modelHubApiMock({
      listAudit: async () => ({
        items: entries,
        totalCount: 2,
        offset: 0,
        limit: 50,
      }),
      exportAudit: async () => ({
        blob,
        filename: 'model-hub-audit-2026-01-01-2026-01-31.csv',
        truncated: false,
      }),
    });
    await render(api);
    await screen.findByRole('table', { name: 'Audit trail' }, slow);
    fireEvent.change(screen.getByLabelText('Actor'), {
      target: { value: 'user:default/bob' },
    });
    await waitFor(
      () =>
        expect(api.listAudit).toHaveBeenLastCalledWith(
          expect.objectContaining({ actor: ['user:default/bob'] }),
        ),
      slow,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Export CSV' }));
    await waitFor(
      () =>
        expect(api.exportAudit).toHaveBeenCalledWith({
          actor: ['user:default/bob'],
          model: undefined,
          event: undefined,
          from: undefined,
          to: undefined,
        }),
      slow,
    );
    await waitFor(() => expect(click).toHaveBeenCalledTimes(1), slow);
    expect(createObjectURL).toHaveBeenCalledWith(blob);
    click.mockRestore();
  });

  it('shows the backend’s message for a bad search', async () => {
    const api = modelHubApiMock({
      listAudit: async () => {
        throw await ResponseError.fromResponse(
          new Response(
            JSON.stringify({
              error: { name: 'InputError', message: 'from is after to' },
              response: { statusCode: 400 },
            }),
            {
              status: 400,
              statusText: 'Bad Request',
              headers: { 'content-type': 'application/json' },
            },
          ) as any,
        );
      },
    });
    await render(api);
    expect(
      (await screen.findAllByText(/from is after to/, {}, slow)).length,
    ).toBeGreaterThan(0);
  });
});
