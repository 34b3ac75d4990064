import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import {
  configure,
  fireEvent,
  screen,
  waitFor,
  within,
} from '@testing-library/react';
import { HubApprovalItem, modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock, modelHubFixtures } from '../../testUtils';
import { ApprovalsPage } from './ApprovalsPage';

const item = (name: string, overrides: Partial<HubApprovalItem> = {}) => ({
  modelRef: `model:default/${name}`,
  owner: 'group:default/ml-engineers',
  type: 'llm',
  lifecycle: 'experimental',
  label: '2.0',
  revision: 5,
  createdBy: 'user:default/alice',
  round: 1,
  submittedBy: 'user:default/alice',
  submittedAt: '2026-01-03T09:00:00.000Z',
  approvals: [],
  ...overrides,
});

function render(
  api: ReturnType<typeof modelHubApiMock>,
  decision: 'ALLOW' | 'DENY' = 'ALLOW',
) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission({ authorize: decision })],
      ]}
    >
      <ApprovalsPage />
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
// waitFor and findBy wait long: the test machine is shared and loaded
configure({ asyncUtilTimeout: 15_000 });

describe('ApprovalsPage', () => {
  it('shows progress while loading', async () => {
    await render(
      modelHubApiMock({ listApprovals: () => new Promise(() => {}) }),
    );
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('shows an empty queue', async () => {
    await render(modelHubApiMock());
    expect(await screen.findByText('Nothing to review')).toBeInTheDocument();
  });

  it('shows errors', async () => {
    await render(
      modelHubApiMock({
        listApprovals: async () => {
          throw new Error('queue broke');
        },
      }),
    );
    expect((await screen.findAllByText(/queue broke/)).length).toBeGreaterThan(
      0,
    );
  });

  it('lists the queue, filters it and approves with the revision', async () => {
    const api = modelHubApiMock({
      listApprovals: async () => ({
        items: [
          item('tiny-llm'),
          item('whisper', { type: 'audio', label: '0.3' }),
        ],
        totalCount: 2,
        offset: 0,
        limit: 25,
      }),
      getVersionReview: async (_m, label) => ({
        version: modelHubFixtures.version({
          label,
          state: 'in_review',
          revision: 6,
        }),
        round: 1,
        approvals: { count: 0, required: 1, reviewers: [] },
        decisions: [],
        checks: { items: [], waivers: [], blocking: [] },
      }),
    });
    await render(api);
    const queue = await screen.findByRole('table', { name: 'Review queue' });
    expect(queue).toHaveTextContent('tiny-llm');
    expect(queue).toHaveTextContent('whisper');
    expect(api.listApprovals).toHaveBeenCalledWith({
      model: undefined,
      offset: 0,
      limit: 25,
    });

    // the first version is open for review
    expect(await screen.findByText('Review tiny-llm 2.0')).toBeInTheDocument();
    const approve = await screen.findByRole(
      'button',
      { name: 'Approve' },
      slow,
    );
    await waitFor(() => expect(approve).toBeEnabled(), slow);
    // reviewers decide; owners' actions (promote, submit) are not offered here
    expect(
      screen.queryByRole('button', { name: 'Promote to active' }),
    ).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Reject' }));
    let dialog = await screen.findByRole('dialog', {}, slow);
    // a reason is needed to reject
    expect(
      within(dialog).getByRole('button', { name: 'Reject' }),
    ).toBeDisabled();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(
      () => expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
      slow,
    );
    fireEvent.click(approve);
    dialog = await screen.findByRole('dialog', {}, slow);
    fireEvent.change(within(dialog).getByLabelText(/Comment/), {
      target: { value: 'Looks good' },
    });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Approve' }));
    await waitFor(
      () =>
        expect(api.reviewVersion).toHaveBeenCalledWith(
          'model:default/tiny-llm',
          '2.0',
          { decision: 'approve', comment: 'Looks good', revision: 6 },
        ),
      slow,
    );

    // client-side type filter
    fireEvent.mouseDown(screen.getByLabelText('Type'));
    fireEvent.click(await screen.findByRole('option', { name: 'Audio' }));
    await waitFor(() =>
      expect(
        screen.getByRole('table', { name: 'Review queue' }),
      ).not.toHaveTextContent('tiny-llm'),
    );
  });

  it('disables decisions for those who may not review, with the reason', async () => {
    const api = modelHubApiMock({
      listApprovals: async () => ({
        items: [item('denied-model')],
        totalCount: 1,
        offset: 0,
        limit: 25,
      }),
    });
    await render(api, 'DENY');
    const approve = await screen.findByRole(
      'button',
      { name: 'Approve' },
      slow,
    );
    await waitFor(
      () =>
        expect(approve.parentElement).toHaveAttribute(
          'title',
          'Only approvers of this model may do this (model-hub.version.approve)',
        ),
      slow,
    );
    expect(approve).toBeDisabled();
    expect(
      screen.getByRole('button', { name: 'Request changes' }).parentElement,
    ).toHaveAttribute(
      'title',
      'Only reviewers of this model may do this (model-hub.version.review)',
    );
  });
});
