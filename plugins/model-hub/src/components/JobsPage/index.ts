export { JobsPage, JOBS_SIGNAL_CHANNEL } from './JobsPage';
