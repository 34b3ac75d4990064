import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { LocalScanPage } from './LocalScanPage';

jest.setTimeout(60_000);

// the admin permission is cached per file by usePermission
describe('LocalScanPage for non-admins', () => {
  it('says why and starts nothing', async () => {
    const api = modelHubApiMock();
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [modelHubApiRef, api],
          [permissionApiRef, mockApis.permission({ authorize: 'DENY' as any })],
        ]}
      >
        <LocalScanPage />
      </TestApiProvider>,
    );
    expect(
      await screen.findByText(
        'Scanning local folders needs the model-hub.admin permission.',
        {},
        { timeout: 15_000 },
      ),
    ).toBeInTheDocument();
    expect(api.getScanStatus).not.toHaveBeenCalled();
    expect(api.startLocalScan).not.toHaveBeenCalled();
  });
});
