/**
 * The version `main` points at and the versions the mirror serves by name:
 * chosen by the approvals workflow, the same way for the REST API and the
 * mirror (see `approvals/servedVersion.ts`).
 */
export {
  pickServedVersion as pickActiveVersion,
  servableVersions,
} from '../approvals/servedVersion';
