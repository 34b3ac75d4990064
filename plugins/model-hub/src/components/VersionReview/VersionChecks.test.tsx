import { ResponseError } from '@backstage/errors';
import { permissionApiRef } from '@backstage/plugin-permission-react';
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
import { HubCheck, modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { VersionChecks } from './VersionChecks';

jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

async function responseError(status: number, message: string) {
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name: status === 409 ? 'ConflictError' : 'Error', message },
        response: { statusCode: status },
      }),
      {
        status,
        statusText: status === 409 ? 'Conflict' : 'Internal Server Error',
        headers: { 'content-type': 'application/json' },
      },
    ) as any,
  );
}

const failed: HubCheck = {
  name: 'model-hub.safety',
  status: 'failed',
  required: true,
  summary: 'pickle imports os.system',
};
const passed: HubCheck = {
  name: 'model-hub.format',
  status: 'passed',
  required: true,
};

// the admin permission is not a resource permission: its decision is cached
// for the whole file, so the denied case sits in its own file section below
async function render(
  api: ReturnType<typeof modelHubApiMock>,
  options: { admin?: boolean; waivable?: boolean; model?: string } = {},
) {
  const onWaived = jest.fn();
  await renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [
          permissionApiRef,
          mockApis.permission({
            authorize: () =>
              (options.admin === false ? 'DENY' : 'ALLOW') as any,
          }),
        ],
      ]}
    >
      <VersionChecks
        model={options.model ?? 'model:default/tiny-llm'}
        label="2.0"
        waivable={options.waivable ?? true}
        onWaived={onWaived}
      />
    </TestApiProvider>,
  );
  return { onWaived };
}

async function openWaiver() {
  const button = await screen.findByRole(
    'button',
    { name: 'Waive model-hub.safety' },
    slow,
  );
  await waitFor(() => expect(button).toBeEnabled(), slow);
  fireEvent.click(button);
  const dialog = await screen.findByRole('dialog', {}, slow);
  const confirm = within(dialog).getByRole('button', { name: 'Waive check' });
  // the reason is required
  expect(confirm).toBeDisabled();
  fireEvent.change(within(dialog).getByLabelText(/Reason/), {
    target: { value: 'vetted by security, ticket SEC-42' },
  });
  return { dialog, confirm };
}

describe('VersionChecks', () => {
  it('lets admins waive a failed check with a reason', async () => {
    let waived = false;
    const api = modelHubApiMock({
      listChecks: async () => [
        waived
          ? {
              ...failed,
              waiver: {
                reason: 'vetted by security, ticket SEC-42',
                waivedBy: 'user:default/admin',
              },
            }
          : failed,
        passed,
      ],
      waiveCheck: jest.fn(async (_m, _l, check, reason) => {
        waived = true;
        return {
          checkName: check,
          reason,
          waivedBy: 'user:default/admin',
          createdAt: '2026-01-03T00:00:00.000Z',
        };
      }),
    });
    const { onWaived } = await render(api);
    // only failed checks can be waived
    expect(
      screen.queryByRole('button', { name: 'Waive model-hub.format' }),
    ).not.toBeInTheDocument();
    const { confirm } = await openWaiver();
    fireEvent.click(confirm);
    await waitFor(
      () =>
        expect(api.waiveCheck).toHaveBeenCalledWith(
          'model:default/tiny-llm',
          '2.0',
          'model-hub.safety',
          'vetted by security, ticket SEC-42',
        ),
      slow,
    );
    expect(
      await screen.findByText(
        'failed, waived by admin: vetted by security, ticket SEC-42',
        {},
        slow,
      ),
    ).toBeInTheDocument();
    expect(onWaived).toHaveBeenCalledTimes(1);
    expect(
      screen.queryByRole('button', { name: 'Waive model-hub.safety' }),
    ).not.toBeInTheDocument();
  });

  it('offers no waiver once the version is decided', async () => {
    const api = modelHubApiMock({ listChecks: async () => [failed] });
    await render(api, { waivable: false });
    expect(
      await screen.findByText('model-hub.safety (required)', {}, slow),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Waive model-hub.safety' }),
    ).not.toBeInTheDocument();
  });

  it('reloads the checks on a conflict (409) and says what happened', async () => {
    const api = modelHubApiMock({
      listChecks: async () => [failed],
      waiveCheck: async () => {
        throw await responseError(
          409,
          'Version 2.0 is approved; checks can no longer be waived',
        );
      },
    });
    const { onWaived } = await render(api);
    const { confirm } = await openWaiver();
    fireEvent.click(confirm);
    expect(await screen.findByRole('alert', {}, slow)).toHaveTextContent(
      'Someone changed version 2.0 first; the checks were reloaded. Version 2.0 is approved; checks can no longer be waived',
    );
    await waitFor(() => expect(api.listChecks).toHaveBeenCalledTimes(2), slow);
    expect(onWaived).toHaveBeenCalledTimes(1);
    await waitFor(
      () => expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
      slow,
    );
  });

  it('shows an error in the dialog', async () => {
    const api = modelHubApiMock({
      listChecks: async () => [failed],
      waiveCheck: async () => {
        throw await responseError(
          403,
          'Separation of duties: only a signed-in user can waive a check',
        );
      },
    });
    const { onWaived } = await render(api);
    const { dialog, confirm } = await openWaiver();
    fireEvent.click(confirm);
    expect(
      await within(dialog).findByText(
        'Separation of duties: only a signed-in user can waive a check',
        {},
        slow,
      ),
    ).toBeInTheDocument();
    expect(onWaived).not.toHaveBeenCalled();
  });
});
