import { permissionApiRef } from '@backstage/plugin-permission-react';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import { modelHubApiRef } from '../../api';
import { modelHubApiMock } from '../../testUtils';
import { AuditPage } from './AuditPage';

jest.setTimeout(60_000);

// basic permissions are cached per file by usePermission: the denied case
// has a file of its own
describe('AuditPage for those who may not read the audit trail', () => {
  it('says why and asks the backend for nothing', async () => {
    const api = modelHubApiMock();
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [modelHubApiRef, api],
          [permissionApiRef, mockApis.permission({ authorize: 'DENY' as any })],
        ]}
      >
        <AuditPage />
      </TestApiProvider>,
    );
    expect(
      await screen.findByText(
        'Reading the audit trail needs the model-hub.audit.read or the model-hub.admin permission.',
        {},
        { timeout: 15_000 },
      ),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('button', { name: 'Export CSV' }),
    ).not.toBeInTheDocument();
    expect(api.listAudit).not.toHaveBeenCalled();
  });
});
