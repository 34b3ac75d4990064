import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { screen } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { modelHubApiRef } from '../../api';
import { rootRouteRef } from '../../routes';
import { modelHubApiMock } from '../../testUtils';
import { ModelHubPage } from './ModelHubPage';

function render(path: string, api = modelHubApiMock()) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [modelHubApiRef, api],
        [permissionApiRef, mockApis.permission()],
      ]}
    >
      <Routes>
        <Route path="/model-hub/*" element={<ModelHubPage />} />
      </Routes>
    </TestApiProvider>,
    {
      routeEntries: [path],
      mountedRoutes: {
        '/model-hub': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

describe('ModelHubPage (legacy)', () => {
  it('opens on the dashboard with a tab per sub-page', async () => {
    const api = modelHubApiMock();
    await render('/model-hub', api);
    expect(
      screen.getByRole('heading', { name: 'Model Hub' }),
    ).toBeInTheDocument();
    for (const tab of [
      'Overview',
      'Models',
      'Upload',
      'Approvals',
      'Jobs',
      'Import from Hugging Face',
    ]) {
      expect(screen.getByRole('tab', { name: tab })).toBeInTheDocument();
    }
    expect(await screen.findByLabelText('Models')).toHaveTextContent('12');
  });

  it('routes to the models table', async () => {
    const api = modelHubApiMock();
    await render('/model-hub/models', api);
    expect(await screen.findByText('No models match.')).toBeInTheDocument();
    expect(api.listModels).toHaveBeenCalled();
  });
});
