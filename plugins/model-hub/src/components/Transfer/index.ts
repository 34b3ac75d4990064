export { ExportVersionButton } from './ExportVersionButton';
export { ImportedEvidence, approvalSummary } from './ImportedEvidence';
export type { HubImportEvidence } from './transferClient';
