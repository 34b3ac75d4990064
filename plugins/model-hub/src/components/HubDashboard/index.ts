export { HubDashboard } from './HubDashboard';
