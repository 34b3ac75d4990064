import {
  alertApiRef,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  MockFetchApi,
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { ExportVersionButton } from './ExportVersionButton';

// usePermission caches its decisions for the whole test file: the denied
// user has a file of its own.
describe('ExportVersionButton without model-hub.export', () => {
  it('is not offered', async () => {
    const authorize = jest.fn(() => 'DENY' as any);
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [
            discoveryApiRef,
            mockApis.discovery({ baseUrl: 'http://backstage.test' }),
          ],
          [fetchApiRef, new MockFetchApi()],
          [alertApiRef, { post: jest.fn(), alert$: jest.fn() }],
          [permissionApiRef, mockApis.permission({ authorize })],
        ]}
      >
        <ExportVersionButton
          model="model:default/tiny"
          version={{ label: 'v1', state: 'approved' }}
        />
        <span>rendered</span>
      </TestApiProvider>,
    );
    await screen.findByText('rendered');
    expect(authorize).toHaveBeenCalled();
    expect(screen.queryByRole('button', { name: 'Export bundle' })).toBeNull();
  });
});
