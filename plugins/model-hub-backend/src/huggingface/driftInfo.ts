import type { VersionDiff } from '../approvals/diff';
import { VersionState } from '../database/types';
import { HfRepo } from './HuggingFaceStore';

/** What the scheduled sync does with a new upstream commit. @internal */
export type DriftPolicy = 'review' | 'notify' | 'ignore';

/** @internal */
export const DRIFT_POLICIES: readonly DriftPolicy[] = [
  'review',
  'notify',
  'ignore',
];

/** Where a drift version stands. @internal */
export type DriftStatus =
  | 'awaiting_files'
  | 'submitted'
  | 'notified'
  | 'ignored'
  | 'blocked'
  | 'failed';

/** The actor of the drift review in the audit trail and the review. @internal */
export const DRIFT_ACTOR = 'huggingface-sync';

/** The notification topic of upstream drift. @internal */
export const DRIFT_TOPIC = 'model-hub:drift';

/** The newest drift version of a model, for its page. @public */
export type DriftVersionInfo = {
  label: string;
  state: VersionState;
  commit: string;
  previousCommit?: string;
  baseLabel?: string;
  policy: DriftPolicy;
  status: DriftStatus;
  detail?: string;
  createdAt: string;
  updatedAt: string;
};

/** The sync state of a model with a Hugging Face registration. @public */
export type ModelSyncInfo = {
  repoId: string;
  revision: string;
  syncState: HfRepo['syncState'];
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  upstreamCommit?: string;
  upstreamCheckedAt?: string;
  drift: boolean;
  lastError?: string;
  lastErrorAt?: string;
  onDrift: DriftPolicy;
  driftVersion?: DriftVersionInfo;
};

/** A one-line summary of a diff, for notifications and the audit trail. */
export function diffSummary(diff: VersionDiff): string {
  const f = diff.files;
  const parts = [
    `${f.added.length} added`,
    `${f.removed.length} removed`,
    `${f.changed.length} changed`,
    `${f.unchanged} unchanged`,
  ];
  const size = diff.totalSize.changed
    ? `; size ${diff.totalSize.from ?? 0} → ${diff.totalSize.to ?? 0} bytes`
    : '';
  const license = diff.license.changed
    ? `; license ${diff.license.from ?? 'none'} → ${diff.license.to ?? 'none'}`
    : '';
  const against = diff.base
    ? ` against ${diff.base.label}`
    : ' (no approved version to compare with)';
  const changedPaths = [
    ...f.added.map(x => `+${x.path}`),
    ...f.removed.map(x => `-${x.path}`),
    ...f.changed.map(x => `~${x.path}`),
  ];
  const listed = changedPaths.length
    ? `: ${changedPaths.slice(0, 10).join(', ')}${
        changedPaths.length > 10 ? `, … ${changedPaths.length - 10} more` : ''
      }`
    : '';
  return `Files${against}: ${parts.join(', ')}${size}${license}${listed}`;
}
