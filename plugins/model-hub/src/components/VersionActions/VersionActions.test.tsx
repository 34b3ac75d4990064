import { ResponseError } from '@backstage/errors';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import {
  modelHubVersionApprovePermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import {
  configure,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import { HubVersion, modelHubApiRef, VersionState } from '../../api';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { VersionActionId } from './VersionActions';
import { VersionActions } from './index';

// generous: the machine running the tests is shared and loaded
jest.setTimeout(60_000);
const slow = { timeout: 15_000 };
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

/** A ResponseError as the client throws it for an error status. */
async function responseError(status: number, message: string) {
  const name = status === 409 ? 'ConflictError' : 'Error';
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name, message },
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

type Case = {
  action: VersionActionId;
  button: string;
  confirm: string;
  state: VersionState;
  permission: string;
  comment: 'required' | 'optional';
  /** The client method the action calls and the arguments it gets. */
  method:
    | 'submitVersion'
    | 'reviewVersion'
    | 'transitionVersion'
    | 'promoteVersion'
    | 'rollbackVersion';
  args(model: string, comment?: string): unknown[];
  /** Whether the version is the active one (rollback). */
  active?: boolean;
};

const CASES: Case[] = [
  {
    action: 'submit',
    button: 'Submit for review',
    confirm: 'Submit for review',
    state: 'draft',
    permission: modelHubVersionCreatePermission.name,
    comment: 'optional',
    method: 'submitVersion',
    args: (m, c) => [m, '2.0', { comment: c, revision: 7 }],
  },
  {
    action: 'approve',
    button: 'Approve',
    confirm: 'Approve',
    state: 'in_review',
    permission: modelHubVersionApprovePermission.name,
    comment: 'optional',
    method: 'reviewVersion',
    args: (m, c) => [
      m,
      '2.0',
      { decision: 'approve', comment: c, revision: 7 },
    ],
  },
  {
    action: 'request_changes',
    button: 'Request changes',
    confirm: 'Request changes',
    state: 'in_review',
    permission: modelHubVersionReviewPermission.name,
    comment: 'required',
    method: 'reviewVersion',
    args: (m, c) => [
      m,
      '2.0',
      { decision: 'request_changes', comment: c, revision: 7 },
    ],
  },
  {
    action: 'reject',
    button: 'Reject',
    confirm: 'Reject',
    state: 'in_review',
    permission: modelHubVersionApprovePermission.name,
    comment: 'required',
    method: 'reviewVersion',
    args: (m, c) => [m, '2.0', { decision: 'reject', comment: c, revision: 7 }],
  },
  {
    action: 'deprecate',
    button: 'Deprecate',
    confirm: 'Deprecate',
    state: 'approved',
    permission: modelHubVersionApprovePermission.name,
    comment: 'optional',
    method: 'transitionVersion',
    args: (m, c) => [
      m,
      '2.0',
      { action: 'deprecate', comment: c, revision: 7 },
    ],
  },
  {
    action: 'archive',
    button: 'Archive',
    confirm: 'Archive',
    state: 'deprecated',
    permission: modelHubVersionApprovePermission.name,
    comment: 'optional',
    method: 'transitionVersion',
    args: (m, c) => [m, '2.0', { action: 'archive', comment: c, revision: 7 }],
  },
  {
    action: 'revoke',
    button: 'Revoke',
    confirm: 'Revoke',
    state: 'approved',
    permission: modelHubVersionApprovePermission.name,
    comment: 'required',
    method: 'transitionVersion',
    args: (m, c) => [m, '2.0', { action: 'revoke', comment: c, revision: 7 }],
  },
  {
    action: 'promote',
    button: 'Promote to active',
    confirm: 'Promote to active',
    state: 'approved',
    permission: modelHubVersionCreatePermission.name,
    comment: 'optional',
    method: 'promoteVersion',
    args: m => [m, '2.0', { expectedActive: '1.0' }],
  },
  {
    action: 'rollback',
    button: 'Roll back',
    confirm: 'Roll back',
    state: 'approved',
    permission: modelHubVersionCreatePermission.name,
    comment: 'optional',
    method: 'rollbackVersion',
    args: m => [m, { label: '1.0', expectedActive: '2.0' }],
    active: true,
  },
];

const base = modelHubFixtures.version({
  label: '1.0',
  state: 'approved',
  createdAt: '2026-01-01T00:00:00.000Z',
});

function versionFor(c: Case): HubVersion {
  return modelHubFixtures.version({
    label: '2.0',
    state: c.state,
    revision: 7,
    fileCount: 3,
    createdAt: '2026-01-05T00:00:00.000Z',
  });
}

// usePermission caches decisions per permission and resource for the whole
// file: every test uses its own model
async function render(
  c: Case,
  model: string,
  api: ReturnType<typeof modelHubApiMock>,
  denied?: string,
) {
  const onChanged = jest.fn();
  const permission = mockApis.permission({
    authorize: req =>
      (req.permission.name === denied ? 'DENY' : 'ALLOW') as any,
  });
  const version = versionFor(c);
  await renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, permission],
      ]}
    >
      <VersionActions
        model={model}
        version={version}
        activeLabel={c.active ? '2.0' : '1.0'}
        activeVersion={c.active ? version : base}
        rollbackTarget={c.active ? '1.0' : undefined}
        onChanged={onChanged}
      />
    </TestApiProvider>,
  );
  return { onChanged };
}

async function openDialog(c: Case, comment?: string) {
  const button = await screen.findByRole('button', { name: c.button }, slow);
  await waitFor(() => expect(button).toBeEnabled(), slow);
  fireEvent.click(button);
  const dialog = await screen.findByRole('dialog', {}, slow);
  const confirm = within(dialog).getByRole('button', { name: c.confirm });
  if (c.comment === 'required') {
    // a reason is required before confirming
    expect(confirm).toBeDisabled();
  }
  if (comment) {
    fireEvent.change(
      within(dialog).getByLabelText(
        c.comment === 'required' ? /Reason \(required\)/ : /Comment/,
      ),
      { target: { value: comment } },
    );
  }
  return { dialog, confirm };
}

describe('VersionActions', () => {
  describe.each(CASES)('$action', c => {
    const ref = (kind: string) => `model:default/${c.action}-${kind}`;
    const text =
      c.method === 'promoteVersion' || c.method === 'rollbackVersion'
        ? undefined
        : 'because of reasons';

    it('is offered when allowed and calls the backend', async () => {
      const api = modelHubApiMock();
      const { onChanged } = await render(c, ref('allowed'), api);
      const { confirm } = await openDialog(c, text);
      fireEvent.click(confirm);
      await waitFor(
        () =>
          expect(api[c.method]).toHaveBeenCalledWith(
            ...c.args(ref('allowed'), text),
          ),
        slow,
      );
      await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1), slow);
      await waitFor(
        () => expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
        slow,
      );
    });

    it('is disabled with the reason when denied', async () => {
      const api = modelHubApiMock();
      await render(c, ref('denied'), api, c.permission);
      const button = await screen.findByRole('button', { name: c.button });
      await waitFor(
        () =>
          expect(button.parentElement).toHaveAttribute(
            'title',
            expect.stringContaining(c.permission),
          ),
        slow,
      );
      expect(button).toBeDisabled();
      expect(button.parentElement!.getAttribute('title')).toMatch(
        /^Only (the model's owners|reviewers of this model|approvers of this model) may do this/,
      );
      expect(api[c.method]).not.toHaveBeenCalled();
    });

    it('reloads and says what happened on a conflict (409)', async () => {
      const api = modelHubApiMock({
        [c.method]: async () => {
          throw await responseError(
            409,
            c.method === 'promoteVersion' || c.method === 'rollbackVersion'
              ? 'The active version of x is 3.0, not 1.0; reload and try again'
              : 'Version 2.0 is rejected; it cannot be changed',
          );
        },
        getVersion: async (_m, label) =>
          modelHubFixtures.version({ label, state: 'rejected' }),
        getActiveVersion: async () => ({
          active: {
            versionId: 'v-3.0',
            label: '3.0',
            state: 'approved',
            promotedBy: 'user:default/carol',
            promotedAt: '2026-01-06T00:00:00.000Z',
          },
          history: [],
        }),
      });
      const { onChanged } = await render(c, ref('conflict'), api);
      const { confirm } = await openDialog(c, text);
      fireEvent.click(confirm);
      const alert = await screen.findByRole('alert', {}, slow);
      const activeChange =
        c.method === 'promoteVersion' || c.method === 'rollbackVersion';
      expect(alert).toHaveTextContent(
        activeChange
          ? 'Someone changed the active version first: it is now 3.0 (by carol).'
          : 'Someone acted on version 2.0 first: it is now rejected.',
      );
      // what happened was read back from the server
      expect(
        activeChange
          ? api.getActiveVersion.mock.calls
          : api.getVersion.mock.calls,
      ).toContainEqual(
        activeChange ? [ref('conflict')] : [ref('conflict'), '2.0'],
      );
      // the server's own words too
      expect(alert).toHaveTextContent(/reload and try again|cannot be changed/);
      expect(onChanged).toHaveBeenCalledTimes(1);
      await waitFor(
        () => expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
        slow,
      );
    });

    it('shows an error in the dialog and keeps it open', async () => {
      const api = modelHubApiMock({
        [c.method]: async () => {
          throw await responseError(500, 'the database is down');
        },
      });
      const { onChanged } = await render(c, ref('error'), api);
      const { dialog, confirm } = await openDialog(c, text);
      fireEvent.click(confirm);
      expect(
        await within(dialog).findByText('the database is down', {}, slow),
      ).toBeInTheDocument();
      expect(screen.getByRole('dialog')).toBeInTheDocument();
      expect(onChanged).not.toHaveBeenCalled();
      // confirm is available again for a retry
      await waitFor(() => expect(confirm).toBeEnabled(), slow);
    });
  });

  it.each(CASES.filter(c => c.action === 'promote' || c.action === 'rollback'))(
    '$action shows the diff against the current active version first',
    async c => {
      const api = modelHubApiMock();
      const model = `model:default/${c.action}-diff`;
      await render(c, model, api);
      const { dialog } = await openDialog(c);
      expect(
        await within(dialog).findByTestId('version-diff', {}, slow),
      ).toHaveTextContent(`Compared with version ${c.active ? '2.0' : '1.0'}`);
      // the version that becomes active, against the active one
      expect(api.getVersionDiff).toHaveBeenCalledWith(
        model,
        c.active ? '1.0' : '2.0',
        { against: c.active ? '2.0' : '1.0' },
      );
      expect(api[c.method]).not.toHaveBeenCalled();
    },
  );

  it('offers the actions that fit the state', async () => {
    const api = modelHubApiMock();
    const permission = mockApis.permission();
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [modelHubApiRef, api],
          [permissionApiRef, permission],
        ]}
      >
        <VersionActions
          model="model:default/states"
          version={modelHubFixtures.version({
            label: '0.9',
            state: 'approved',
            createdAt: '2025-12-01T00:00:00.000Z',
          })}
          activeLabel="1.0"
          activeVersion={base}
          onChanged={jest.fn()}
        />
      </TestApiProvider>,
    );
    const group = await screen.findByRole('group', {
      name: 'Actions of version 0.9',
    });
    // older than the active version: a rollback target, not a promotion
    expect(
      within(group).getByRole('button', { name: 'Roll back to this version' }),
    ).toBeInTheDocument();
    expect(
      within(group).queryByRole('button', { name: 'Promote to active' }),
    ).not.toBeInTheDocument();
    expect(
      within(group).queryByRole('button', { name: 'Approve' }),
    ).not.toBeInTheDocument();
    expect(
      within(group).getByRole('button', { name: 'Deprecate' }),
    ).toBeInTheDocument();
  });

  it('explains why an empty draft cannot be submitted', async () => {
    const api = modelHubApiMock();
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [modelHubApiRef, api],
          [permissionApiRef, mockApis.permission()],
        ]}
      >
        <VersionActions
          model="model:default/empty-draft"
          version={modelHubFixtures.version({
            label: '0.1',
            state: 'draft',
            fileCount: 0,
          })}
          onChanged={jest.fn()}
        />
      </TestApiProvider>,
    );
    const button = await screen.findByRole('button', {
      name: 'Submit for review',
    });
    await waitFor(
      () =>
        expect(button.parentElement).toHaveAttribute(
          'title',
          'Upload files first: the version has no files',
        ),
      slow,
    );
    expect(button).toBeDisabled();
  });
});
