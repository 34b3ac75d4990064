import {
  Content,
  EmptyState,
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubAdminPermission,
  modelHubSyncTriggerPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import LinearProgress from '@material-ui/core/LinearProgress';
import MenuItem from '@material-ui/core/MenuItem';
import Paper from '@material-ui/core/Paper';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TablePagination from '@material-ui/core/TablePagination';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useEffect, useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { HubJob, JOB_STATES, JobState, modelHubApiRef } from '../../api';
import { formatTime, humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';
import { JobLogs } from './JobLogs';
import { jobProgress } from './jobProgress';
import { JobSignal, useJobSignals } from './useJobSignals';

export { JOBS_SIGNAL_CHANNEL } from './useJobSignals';

const ACTIVE: JobState[] = ['queued', 'running'];

function JobProgressCell(props: { job: HubJob }) {
  const { fraction, text } = jobProgress(props.job);
  return (
    <Box minWidth={160}>
      {props.job.state === 'running' || fraction !== undefined ? (
        <LinearProgress
          variant={fraction === undefined ? 'indeterminate' : 'determinate'}
          value={fraction === undefined ? undefined : fraction * 100}
          aria-label={`Progress of job ${props.job.id}`}
        />
      ) : null}
      <Typography variant="caption">
        {fraction !== undefined && `${Math.floor(fraction * 100)}% `}
        {text}
      </Typography>
    </Box>
  );
}

function JobDetails(props: { job: HubJob; tick: unknown; onChanged(): void }) {
  const { job } = props;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);
  const sync = usePermission({
    permission: modelHubSyncTriggerPermission,
    resourceRef: job.modelRef,
  });
  const admin = usePermission({ permission: modelHubAdminPermission });
  const allowed = (job.modelRef && sync.allowed) || admin.allowed;

  const act = async (action: 'retry' | 'cancel') => {
    setBusy(true);
    try {
      await (action === 'retry' ? api.retryJob(job.id) : api.cancelJob(job.id));
      props.onChanged();
    } catch (e) {
      alertApi.post({ message: (e as Error).message, severity: 'error' });
    } finally {
      setBusy(false);
    }
  };

  return (
    <InfoCard
      title={`${humanize(job.type)} ${job.id.slice(0, 8)}`}
      subheader={
        <Box display="flex" alignItems="center" style={{ gap: 8 }}>
          <StatePill state={job.state} />
          <span>
            attempt {job.attempts ?? 0} of {job.maxAttempts ?? '?'}
            {job.startedAt && `, started ${formatTime(job.startedAt)}`}
            {job.finishedAt && `, finished ${formatTime(job.finishedAt)}`}
          </span>
        </Box>
      }
      action={
        <Box display="flex" style={{ gap: 8 }} mt={1} mr={1}>
          {(job.state === 'failed' || job.state === 'cancelled') && (
            <Button
              variant="contained"
              color="primary"
              size="small"
              disabled={busy || !allowed}
              onClick={() => act('retry')}
            >
              Retry
            </Button>
          )}
          {ACTIVE.includes(job.state) && (
            <Button
              variant="outlined"
              size="small"
              disabled={busy || !allowed}
              onClick={() => act('cancel')}
            >
              Cancel
            </Button>
          )}
        </Box>
      }
    >
      <JobProgressCell job={job} />
      {job.error && (
        <Typography color="error" variant="body2" gutterBottom>
          {job.error}
        </Typography>
      )}
      {job.params && Object.keys(job.params).length > 0 && (
        <Typography variant="body2" color="textSecondary" gutterBottom>
          {Object.entries(job.params)
            .filter(([, v]) => typeof v !== 'object')
            .map(([k, v]) => `${k}: ${String(v)}`)
            .join(', ')}
        </Typography>
      )}
      <JobLogs jobId={job.id} tick={props.tick} />
    </InfoCard>
  );
}

/**
 * The registrations whose last Hugging Face sync failed, with the error.
 * Nothing shows when all syncs succeed (or the backend lacks the list).
 */
function SyncErrors(props: { reloadKey: unknown }) {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const failed = useAsync(
    () =>
      api
        .listHuggingFaceRepos({ syncState: ['failed'], limit: 50 })
        .then(page => page.items.filter(r => r.lastError))
        .catch(() => []),
    [api, props.reloadKey],
  );
  if (!failed.value || failed.value.length === 0) {
    return null;
  }
  return (
    <Box mb={2}>
      <InfoCard title="Sync errors" noPadding>
        <Table size="small" aria-label="Sync errors">
          <TableHead>
            <TableRow>
              <TableCell>Repository</TableCell>
              <TableCell>Model</TableCell>
              <TableCell>Error</TableCell>
              <TableCell>When</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {failed.value.map(r => (
              <TableRow key={r.id} data-repo={r.repoId}>
                <TableCell>
                  {r.repoId}@{r.revision}
                </TableCell>
                <TableCell>
                  <Link to={links.catalog(r.modelRef)}>
                    {r.modelRef.replace(/^model:(default\/)?/, '')}
                  </Link>
                </TableCell>
                <TableCell>
                  <Typography variant="body2" color="error">
                    {r.lastError}
                  </Typography>
                </TableCell>
                <TableCell>
                  {formatTime(r.lastErrorAt ?? r.updatedAt)}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </InfoCard>
    </Box>
  );
}

/**
 * The jobs monitor: jobs with live progress through signals (polling when
 * signals are unavailable), their logs, and retry and cancel.
 *
 * @public
 */
export function JobsPage() {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const [state, setState] = useState<JobState | ''>('');
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(25);
  const [selected, setSelected] = useState<string>();
  const [live, setLive] = useState<Record<string, JobSignal>>({});
  const [tick, setTick] = useState(0);
  const { pending, handled, isSignalsAvailable } = useJobSignals();

  const jobs = useAsyncRetry(
    () =>
      api.listJobs({
        offset: page * pageSize,
        limit: pageSize,
        state: state ? [state] : undefined,
      }),
    [api, page, pageSize, state],
  );

  // apply live progress; reload the page when a job changes state
  useEffect(() => {
    if (!pending.length) {
      return;
    }
    const latest: Record<string, JobSignal> = {};
    let reload = false;
    for (const signal of pending) {
      latest[signal.jobId] = signal;
      const known = jobs.value?.items.find(j => j.id === signal.jobId);
      if (!known || (signal.state && signal.state !== known.state)) {
        reload = true;
      }
    }
    handled(pending.length);
    setLive(prev => ({ ...prev, ...latest }));
    setTick(t => t + 1);
    if (reload) {
      jobs.retry();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pending]);

  const items = (jobs.value?.items ?? []).map(j => {
    const signal = live[j.id];
    return signal && j.state !== 'succeeded' && j.state !== 'failed'
      ? {
          ...j,
          state: signal.state ?? j.state,
          progress: signal.progress ?? j.progress,
        }
      : j;
  });
  const anyActive = items.some(j => ACTIVE.includes(j.state));

  // without signals, poll while jobs are active
  useInterval(
    () => {
      jobs.retry();
      setTick(t => t + 1);
    },
    !isSignalsAvailable && anyActive ? 3000 : null,
  );

  // with signals, list again every two minutes: the backend sends a user
  // the signals of the jobs they may read for a few minutes after each list
  useInterval(() => jobs.retry(), isSignalsAvailable ? 120_000 : null);

  const current = items.find(j => j.id === selected) ?? items[0];

  return (
    <Content>
      <Box display="flex" style={{ gap: 12 }} mb={2} alignItems="center">
        <TextField
          select
          label="State"
          size="small"
          variant="outlined"
          style={{ minWidth: 160 }}
          value={state}
          onChange={e => {
            setState(e.target.value as JobState | '');
            setPage(0);
          }}
          SelectProps={{ inputProps: { 'aria-label': 'State' } }}
        >
          <MenuItem value="">All</MenuItem>
          {JOB_STATES.map(s => (
            <MenuItem key={s} value={s}>
              {humanize(s)}
            </MenuItem>
          ))}
        </TextField>
        <Typography variant="caption" color="textSecondary">
          {isSignalsAvailable ? 'Live' : 'Refreshing every 3 s while jobs run'}
        </Typography>
      </Box>
      <SyncErrors reloadKey={jobs.value} />
      {jobs.loading && !jobs.value && <Progress />}
      {jobs.error && <ResponseErrorPanel error={jobs.error} />}
      {jobs.value && items.length === 0 && (
        <EmptyState
          missing="content"
          title="No jobs"
          description="Hugging Face syncs, downloads and inspections show up here."
        />
      )}
      {items.length > 0 && (
        <Grid container spacing={3}>
          <Grid item xs={12}>
            <Paper>
              <Table size="small" aria-label="Jobs">
                <TableHead>
                  <TableRow>
                    <TableCell>Job</TableCell>
                    <TableCell>Model</TableCell>
                    <TableCell>State</TableCell>
                    <TableCell>Progress</TableCell>
                    <TableCell>Created</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {items.map(j => (
                    <TableRow
                      key={j.id}
                      hover
                      selected={current?.id === j.id}
                      onClick={() => setSelected(j.id)}
                      style={{ cursor: 'pointer' }}
                      data-job={j.id}
                    >
                      <TableCell>
                        {humanize(j.type)}
                        <Typography variant="caption" display="block">
                          {j.id.slice(0, 8)}
                        </Typography>
                      </TableCell>
                      <TableCell>
                        {j.modelRef ? (
                          <Link to={links.catalog(j.modelRef)}>
                            {j.modelRef.replace(/^model:(default\/)?/, '')}
                          </Link>
                        ) : (
                          '–'
                        )}
                      </TableCell>
                      <TableCell>
                        <StatePill state={j.state} />
                      </TableCell>
                      <TableCell>
                        <JobProgressCell job={j} />
                      </TableCell>
                      <TableCell>{formatTime(j.createdAt)}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
              <TablePagination
                component="div"
                count={jobs.value?.totalCount ?? 0}
                page={page}
                rowsPerPage={pageSize}
                rowsPerPageOptions={[10, 25, 50]}
                onPageChange={(_e, p) => setPage(p)}
                onRowsPerPageChange={e => {
                  setPageSize(Number(e.target.value));
                  setPage(0);
                }}
              />
            </Paper>
          </Grid>
          {current && (
            <Grid item xs={12}>
              <JobDetails
                key={current.id}
                job={current}
                tick={tick}
                onChanged={() => jobs.retry()}
              />
            </Grid>
          )}
        </Grid>
      )}
    </Content>
  );
}
