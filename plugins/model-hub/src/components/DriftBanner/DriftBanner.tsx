import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Alert from '@material-ui/lab/Alert';
import AlertTitle from '@material-ui/lab/AlertTitle';
import { HfRepo, HubModelSync, HubVersion } from '../../api';
import { formatTime, humanize } from '../../lib/format';

const short = (commit?: string) => (commit ? commit.slice(0, 12) : 'unknown');
const OPEN_STATES = ['draft', 'in_review', 'changes_requested'];

/** The sync state of a registration, for backends without `model.sync`. */
export function syncOfRepo(repo: HfRepo): HubModelSync {
  return {
    repoId: repo.repoId,
    revision: repo.revision,
    syncState: repo.syncState,
    lastSyncedCommit: repo.lastSyncedCommit,
    lastSyncedAt: repo.lastSyncedAt,
    upstreamCommit: repo.upstreamCommit,
    drift: repo.drift,
    lastError: repo.lastError,
    lastErrorAt: repo.lastErrorAt,
    driftVersion: repo.driftVersion,
  };
}

/** Whether the model page shows the drift banner. */
export function showsDrift(sync: HubModelSync): boolean {
  return (
    sync.drift ||
    Boolean(sync.driftVersion && OPEN_STATES.includes(sync.driftVersion.state))
  );
}

/**
 * Upstream drift and sync errors of a model synced from Hugging Face: a
 * banner when the upstream revision moved to a commit that needs a review
 * (with the version the hub created for it, its state and the version it
 * is compared with), and the error of the last sync.
 *
 * @public
 */
export function DriftBanner(props: {
  sync: HubModelSync;
  versions: HubVersion[];
  /** Opens a version of the model. */
  onOpenVersion?(label: string): void;
}) {
  const { sync } = props;
  const drift = sync.driftVersion;
  // the version pinned to the upstream commit, also without driftVersion
  const pinned =
    drift ??
    (() => {
      const v = sync.upstreamCommit
        ? props.versions.find(x => x.resolvedCommit === sync.upstreamCommit)
        : undefined;
      return v
        ? { label: v.label, state: v.state, commit: v.resolvedCommit ?? '' }
        : undefined;
    })();
  const state = pinned
    ? props.versions.find(v => v.label === pinned.label)?.state ?? pinned.state
    : undefined;
  return (
    <Box display="flex" flexDirection="column" style={{ gap: 8 }}>
      {showsDrift(sync) && (
        <Alert
          severity="warning"
          role="region"
          aria-label="Upstream drift"
          data-testid="drift-banner"
          action={
            pinned && props.onOpenVersion ? (
              <Button
                color="inherit"
                size="small"
                data-testid="drift-banner-open"
                onClick={() => props.onOpenVersion!(pinned.label)}
              >
                Review version {pinned.label}
              </Button>
            ) : undefined
          }
        >
          <AlertTitle>Upstream changed</AlertTitle>
          Upstream {sync.repoId}@{sync.revision} moved to{' '}
          <code>{short(pinned?.commit || sync.upstreamCommit)}</code>
          {sync.lastSyncedCommit && (
            <>
              {' '}
              (the hub synced <code>{short(sync.lastSyncedCommit)}</code>
              {sync.lastSyncedAt ? ` ${formatTime(sync.lastSyncedAt)}` : ''})
            </>
          )}
          ;{' '}
          {pinned && state
            ? `version ${pinned.label} is ${humanize(state).toLocaleLowerCase(
                'en-US',
              )}${
                drift?.baseLabel ? ` — diff against ${drift.baseLabel}` : ''
              }.`
            : 'no version pins the new commit yet; the next sync creates one.'}
          {drift?.detail && (
            <>
              {' '}
              {humanize(drift.status ?? '')}: {drift.detail}
            </>
          )}
        </Alert>
      )}
      {sync.lastError && (
        <Alert
          severity="error"
          role="region"
          aria-label="Sync error"
          data-testid="sync-error"
        >
          <AlertTitle>Last sync failed</AlertTitle>
          {sync.lastError}
          {sync.lastErrorAt ? ` (${formatTime(sync.lastErrorAt)})` : ''}
        </Alert>
      )}
    </Box>
  );
}
