export { ApprovalTimeline } from './ApprovalTimeline';
export { VersionChecks } from './VersionChecks';
export { VersionDiffView } from './VersionDiffView';
