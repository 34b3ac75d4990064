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
import { HubComment, modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { CommentThread } from './CommentThread';

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

const threads: HubComment[] = [
  {
    id: '11111111-1111-4111-8111-111111111111',
    author: 'user:default/bob',
    body: 'Why did the tokenizer change?',
    createdAt: '2026-01-03T10:00:00.000Z',
    replies: [
      {
        id: '22222222-2222-4222-8222-222222222222',
        parentId: '11111111-1111-4111-8111-111111111111',
        author: 'user:default/alice',
        body: 'Upstream fixed a bug.',
        createdAt: '2026-01-03T11:00:00.000Z',
        replies: [],
      },
    ],
  },
];

async function render(
  model: string,
  api: ReturnType<typeof modelHubApiMock>,
  allowed = true,
) {
  await renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [
          permissionApiRef,
          mockApis.permission({
            authorize: () => (allowed ? 'ALLOW' : 'DENY') as any,
          }),
        ],
      ]}
    >
      <CommentThread model={model} label="2.0" />
    </TestApiProvider>,
  );
}

describe('CommentThread', () => {
  it('shows threads with replies, comments and replies when allowed', async () => {
    const api = modelHubApiMock({ listComments: async () => threads });
    await render('model:default/comments-allowed', api);
    const bob = await screen.findByRole(
      'listitem',
      { name: 'Comment by bob' },
      slow,
    );
    // the reply is nested in its thread
    expect(
      within(bob).getByRole('listitem', { name: 'Comment by alice' }),
    ).toHaveTextContent('Upstream fixed a bug.');

    const add = screen.getByRole('button', { name: 'Add comment' });
    fireEvent.change(screen.getByLabelText('New comment'), {
      target: { value: 'Diff looks fine' },
    });
    await waitFor(() => expect(add).toBeEnabled(), slow);
    fireEvent.click(add);
    await waitFor(
      () =>
        expect(api.addComment).toHaveBeenCalledWith(
          'model:default/comments-allowed',
          '2.0',
          { body: 'Diff looks fine', parentId: undefined },
        ),
      slow,
    );

    fireEvent.click(screen.getByRole('button', { name: 'Reply to bob' }));
    fireEvent.change(await screen.findByLabelText('Reply to bob'), {
      target: { value: 'Thanks' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Post reply' }));
    await waitFor(
      () =>
        expect(api.addComment).toHaveBeenLastCalledWith(
          'model:default/comments-allowed',
          '2.0',
          { body: 'Thanks', parentId: threads[0].id },
        ),
      slow,
    );
    // reloaded after each post
    await waitFor(
      () => expect(api.listComments).toHaveBeenCalledTimes(3),
      slow,
    );
  });

  it('explains why those who may not comment cannot', async () => {
    const api = modelHubApiMock({ listComments: async () => threads });
    await render('model:default/comments-denied', api, false);
    await screen.findByRole('listitem', { name: 'Comment by bob' }, slow);
    const add = screen.getByRole('button', { name: 'Add comment' });
    await waitFor(
      () =>
        expect(
          screen.getByText(
            "Only reviewers (model-hub.version.review) and the model's owners (model-hub.version.create) may comment",
          ),
        ).toBeInTheDocument(),
      slow,
    );
    expect(add).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Reply to bob' })).toBeDisabled();
    expect(
      screen.getByRole('button', { name: 'Reply to bob' }).parentElement,
    ).toHaveAttribute('title', expect.stringContaining('may comment'));
  });

  it('reloads the thread on a conflict (409) and says so', async () => {
    const api = modelHubApiMock({
      listComments: async () => threads,
      addComment: async () => {
        throw await responseError(409, 'Version 2.0 is archived');
      },
    });
    await render('model:default/comments-conflict', api);
    await screen.findByRole('listitem', { name: 'Comment by bob' }, slow);
    fireEvent.change(screen.getByLabelText('New comment'), {
      target: { value: 'late' },
    });
    const add = screen.getByRole('button', { name: 'Add comment' });
    await waitFor(() => expect(add).toBeEnabled(), slow);
    fireEvent.click(add);
    expect(await screen.findByRole('alert', {}, slow)).toHaveTextContent(
      'The thread changed meanwhile and was reloaded: Version 2.0 is archived',
    );
    await waitFor(
      () => expect(api.listComments).toHaveBeenCalledTimes(2),
      slow,
    );
    // the text is kept for another try
    expect(screen.getByLabelText('New comment')).toHaveValue('late');
  });

  it('shows errors', async () => {
    const api = modelHubApiMock({
      addComment: async () => {
        throw await responseError(500, 'comment store broke');
      },
    });
    await render('model:default/comments-error', api);
    expect(await screen.findByText('No comments yet.', {}, slow)).toBeVisible();
    fireEvent.change(screen.getByLabelText('New comment'), {
      target: { value: 'hello' },
    });
    const add = screen.getByRole('button', { name: 'Add comment' });
    await waitFor(() => expect(add).toBeEnabled(), slow);
    fireEvent.click(add);
    expect(await screen.findByRole('alert', {}, slow)).toHaveTextContent(
      'comment store broke',
    );
  });
});
