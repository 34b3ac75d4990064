import { ResponseError } from '@backstage/errors';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { ReactNode } from 'react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { ApprovalTimeline } from './ApprovalTimeline';
import { VersionChecks } from './VersionChecks';
import { VersionDiffView } from './VersionDiffView';

const ref = 'model:default/tiny-llm';

function render(api: ReturnType<typeof modelHubApiMock>, node: ReactNode) {
  return renderInTestApp(
    <TestApiProvider apis={[[modelHubApiRef, api]]}>{node}</TestApiProvider>,
  );
}

async function notFound() {
  return ResponseError.fromResponse(
    new Response('{}', {
      status: 404,
      statusText: 'Not Found',
      headers: { 'content-type': 'application/json' },
    }) as any,
  );
}

describe('version review components', () => {
  it('lists checks with their status', async () => {
    const api = modelHubApiMock({
      listChecks: async () => [
        { name: 'safetensors-header', status: 'passed', required: true },
        {
          name: 'pickle-scan',
          status: 'failed',
          summary: 'model.bin imports os.system',
          waiver: { reason: 'trusted source', waivedBy: 'user:default/dana' },
        },
        { name: 'license', status: 'failed', summary: 'unknown license' },
      ],
    });
    await render(api, <VersionChecks model={ref} label="1.0" />);
    expect(
      await screen.findByText('safetensors-header (required)'),
    ).toBeInTheDocument();
    expect(
      screen.getByText('failed, waived by dana: trusted source'),
    ).toBeInTheDocument();
    expect(screen.getByText('Waived')).toBeInTheDocument();
    expect(screen.getByText('unknown license')).toBeInTheDocument();
    expect(screen.getByText('Failed')).toBeInTheDocument();
  });

  it('says when checks are unavailable (404) or loading', async () => {
    const api = modelHubApiMock({
      listChecks: async () => {
        throw await notFound();
      },
    });
    await render(api, <VersionChecks model={ref} label="1.0" />);
    expect(
      await screen.findByText('No inspection checks for this version.'),
    ).toBeInTheDocument();

    const pending = modelHubApiMock({
      listChecks: () => new Promise(() => {}),
    });
    await render(pending, <VersionChecks model={ref} label="1.0" />);
    expect(screen.getByTestId('progress')).toBeInTheDocument();
  });

  it('shows the approval timeline, oldest first', async () => {
    const api = modelHubApiMock({
      listReviews: async () => [
        {
          id: 1,
          action: 'submit',
          actor: 'user:default/alice',
          toState: 'in_review',
          createdAt: '2026-01-02T10:00:00Z',
        },
        {
          id: 2,
          action: 'approve',
          actor: 'user:default/bob',
          comment: 'Looks good',
          toState: 'approved',
          createdAt: '2026-01-02T11:00:00Z',
        },
      ],
    });
    await render(api, <ApprovalTimeline model={ref} label="1.0" />);
    const timeline = await screen.findByRole('list', {
      name: 'Approval timeline',
    });
    expect(timeline).toHaveTextContent(
      /alice submit.*In review.*bob approve.*Approved.*Looks good/,
    );
  });

  it('shows an empty timeline and errors', async () => {
    await render(
      modelHubApiMock(),
      <ApprovalTimeline model={ref} label="1.0" />,
    );
    expect(await screen.findByText('No reviews yet.')).toBeInTheDocument();
    const failing = modelHubApiMock({
      listReviews: async () => {
        throw new Error('reviews broke');
      },
    });
    await render(failing, <ApprovalTimeline model={ref} label="1.0" />);
    expect(
      (await screen.findAllByText(/reviews broke/)).length,
    ).toBeGreaterThan(0);
  });

  it('shows the diff to the previous approved version', async () => {
    const file = (path: string, size: number) => ({
      path,
      size,
      sha256: 'a'.repeat(64),
    });
    const api = modelHubApiMock({
      getVersionDiff: async () => ({
        base: { label: '1.0', state: 'approved' },
        files: {
          added: [file('new.bin', 10)],
          removed: [file('old.bin', 20)],
          changed: [
            {
              path: 'config.json',
              from: { size: 100, sha256: 'b'.repeat(64) },
              to: { size: 120, sha256: 'c'.repeat(64) },
            },
          ],
          unchanged: 3,
        },
        license: { from: 'mit', to: 'apache-2.0', changed: true },
        parameters: { changed: false },
      }),
    });
    await render(api, <VersionDiffView model={ref} label="2.0" />);
    expect(
      await screen.findByText(
        'Compared with approved version 1.0, 3 files unchanged; license mit → apache-2.0',
      ),
    ).toBeInTheDocument();
    expect(screen.getByText('new.bin')).toBeInTheDocument();
    expect(screen.getByText('removed')).toBeInTheDocument();
    expect(screen.getByText('120 B')).toBeInTheDocument();
  });

  it('says when no diff is available', async () => {
    const api = modelHubApiMock({
      getVersionDiff: async () => {
        throw await notFound();
      },
    });
    await render(api, <VersionDiffView model={ref} label="2.0" />);
    expect(
      await screen.findByText('No comparison available.'),
    ).toBeInTheDocument();
  });
});
