export { modelHubApiMock, modelHubFixtures } from './modelHubApiMock';
