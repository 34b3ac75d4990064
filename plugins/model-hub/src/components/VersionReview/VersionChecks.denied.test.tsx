import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { screen, waitFor } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { VersionChecks } from './VersionChecks';

jest.setTimeout(60_000);

// the admin permission has no resource, so usePermission caches its decision
// for the whole test file: the denied case has a file of its own
describe('VersionChecks for non-admins', () => {
  it('disables the waiver and says who may waive', async () => {
    const api = modelHubApiMock({
      listChecks: async () => [
        { name: 'model-hub.safety', status: 'failed', required: true },
      ],
    });
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [modelHubApiRef, api],
          [permissionApiRef, mockApis.permission({ authorize: 'DENY' as any })],
        ]}
      >
        <VersionChecks model="model:default/tiny-llm" label="2.0" waivable />
      </TestApiProvider>,
    );
    const waive = await screen.findByRole(
      'button',
      { name: 'Waive model-hub.safety' },
      { timeout: 15_000 },
    );
    await waitFor(
      () =>
        expect(waive.parentElement).toHaveAttribute(
          'title',
          'Only administrators (model-hub.admin) may waive checks',
        ),
      { timeout: 15_000 },
    );
    expect(waive).toBeDisabled();
    expect(api.waiveCheck).not.toHaveBeenCalled();
  });
});
