import {
  MockFetchApi,
  mockApis,
  registerMswTestHooks,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { discoveryApiRef, fetchApiRef } from '@backstage/core-plugin-api';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { AccessTokensContent, AccessTokensPage } from './AccessTokens';

const base = 'http://backstage.test/api/model-hub';

jest.setTimeout(30_000);

describe('AccessTokens', () => {
  const server = setupServer();
  registerMswTestHooks(server);

  let tokens: any[];
  const requests: string[] = [];

  beforeEach(() => {
    requests.length = 0;
    tokens = [
      {
        id: '11111111-1111-4111-8111-111111111111',
        name: 'laptop',
        prefix: 'hf_abcd',
        createdAt: '2026-01-02T03:04:05.000Z',
        lastUsedAt: '2026-01-03T03:04:05.000Z',
        expiresAt: '2099-01-01T00:00:00.000Z',
      },
      {
        id: '22222222-2222-4222-8222-222222222222',
        name: 'old',
        prefix: 'hf_wxyz',
        createdAt: '2026-01-01T00:00:00.000Z',
        revokedAt: '2026-01-02T00:00:00.000Z',
      },
    ];
    server.use(
      http.get(`${base}/tokens`, () => {
        requests.push('GET');
        return HttpResponse.json({ items: tokens });
      }),
      http.post(`${base}/tokens`, async ({ request }) => {
        const body = (await request.json()) as { name: string };
        requests.push(`POST ${body.name}`);
        const created = {
          id: '33333333-3333-4333-8333-333333333333',
          name: body.name,
          prefix: 'hf_NEWT',
          createdAt: '2026-01-04T00:00:00.000Z',
          expiresAt: '2099-01-01T00:00:00.000Z',
        };
        tokens = [created, ...tokens];
        return HttpResponse.json(
          { ...created, token: 'hf_NEWTOKENsecretsecretsecretsecret12' },
          { status: 201 },
        );
      }),
      http.delete(`${base}/tokens/:id`, ({ params }) => {
        requests.push(`DELETE ${params.id}`);
        tokens = tokens.map(t =>
          t.id === params.id
            ? { ...t, revokedAt: '2026-01-05T00:00:00.000Z' }
            : t,
        );
        return new HttpResponse(null, { status: 204 });
      }),
    );
  });

  const apis = [
    [discoveryApiRef, mockApis.discovery({ baseUrl: 'http://backstage.test' })],
    [fetchApiRef, new MockFetchApi()],
  ] as const;

  it('lists tokens with the mirror endpoint', async () => {
    await renderInTestApp(
      <TestApiProvider apis={apis as any}>
        <AccessTokensPage />
      </TestApiProvider>,
    );
    expect(await screen.findByText('laptop')).toBeInTheDocument();
    expect(screen.getByText('hf_abcd…')).toBeInTheDocument();
    expect(screen.getByText('revoked')).toBeInTheDocument();
    expect(screen.getByText('active')).toBeInTheDocument();
    expect(
      screen.getByText('http://backstage.test/api/model-hub/hf'),
    ).toBeInTheDocument();
    // only active tokens can be revoked
    expect(
      screen.getByRole('button', { name: 'Revoke laptop' }),
    ).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Revoke old' })).toBeNull();
  });

  it('creates a token, shows it once, and revokes one', async () => {
    await renderInTestApp(
      <TestApiProvider apis={apis as any}>
        <AccessTokensContent />
      </TestApiProvider>,
    );
    await screen.findByText('laptop');
    const create = screen.getByRole('button', { name: 'Create token' });
    expect(create).toBeDisabled();
    await userEvent.type(screen.getByLabelText('Token name'), 'ci');
    await userEvent.click(create);
    expect(await screen.findByTestId('created-token')).toHaveTextContent(
      'hf_NEWTOKENsecretsecretsecretsecret12',
    );
    expect(screen.getByText(/not shown again/)).toBeInTheDocument();
    expect(await screen.findByText('hf_NEWT…')).toBeInTheDocument();

    await userEvent.click(
      screen.getByRole('button', { name: 'Revoke laptop' }),
    );
    await waitFor(() =>
      expect(requests).toContain('DELETE 11111111-1111-4111-8111-111111111111'),
    );
    await waitFor(() =>
      expect(
        screen.queryByRole('button', { name: 'Revoke laptop' }),
      ).toBeNull(),
    );
    expect(requests).toContain('POST ci');
  });

  it('shows errors of the backend', async () => {
    server.use(
      http.get(`${base}/tokens`, () =>
        HttpResponse.json(
          { error: { name: 'AuthenticationError', message: 'no user' } },
          { status: 401 },
        ),
      ),
    );
    await renderInTestApp(
      <TestApiProvider apis={apis as any}>
        <AccessTokensContent />
      </TestApiProvider>,
    );
    expect((await screen.findAllByText(/no user/)).length).toBeGreaterThan(0);
  });
});
