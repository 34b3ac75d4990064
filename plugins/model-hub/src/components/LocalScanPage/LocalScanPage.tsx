import {
  Content,
  EmptyState,
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import LinearProgress from '@material-ui/core/LinearProgress';
import List from '@material-ui/core/List';
import ListItem from '@material-ui/core/ListItem';
import ListItemText from '@material-ui/core/ListItemText';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import { useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useInterval from 'react-use/esm/useInterval';
import { HubJob, HubScannedModel, modelHubApiRef } from '../../api';
import { formatBytes, formatTime, humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { JobLogs } from '../JobsPage/JobLogs';
import { StatePill } from '../StatePill';
import { isConflict, messageOf } from '../VersionActions/conflict';

const ACTIVE = ['queued', 'running'];
const POLL_MS = 2000;

type Counter = { total?: number; done?: number };

const counter = (v: unknown): Counter | undefined =>
  typeof v === 'object' && v !== null ? (v as Counter) : undefined;

/** The progress of a local scan job, from what the scan reports. */
export function scanProgress(job: Pick<HubJob, 'state' | 'progress'>) {
  const p = (job.progress ?? {}) as Record<string, unknown>;
  const files = counter(p.files);
  const bytes = counter(p.bytes);
  const folders = counter(p.folders);
  let fraction: number | undefined;
  if (job.state === 'succeeded') {
    fraction = 1;
  } else if (bytes?.total) {
    fraction = (bytes.done ?? 0) / bytes.total;
  } else if (files?.total) {
    fraction = (files.done ?? 0) / files.total;
  }
  const parts = [
    typeof p.phase === 'string' ? humanize(p.phase) : undefined,
    folders?.total !== undefined
      ? `${folders.done ?? 0}/${folders.total} folders`
      : undefined,
    files?.total !== undefined
      ? `${files.done ?? 0}/${files.total} files`
      : undefined,
    bytes?.total !== undefined
      ? `${formatBytes(bytes.done ?? 0)} of ${formatBytes(bytes.total)}`
      : undefined,
  ].filter(Boolean);
  return {
    fraction:
      fraction === undefined ? undefined : Math.max(0, Math.min(1, fraction)),
    text: parts.join(', '),
    current: typeof p.current === 'string' ? p.current : undefined,
    models: Array.isArray(p.models) ? (p.models as HubScannedModel[]) : [],
    skipped: Array.isArray(p.skipped) ? (p.skipped as string[]) : [],
  };
}

function ScanJob(props: { jobId: string; onFinished(): void }) {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const [tick, setTick] = useState(0);
  const [cancelError, setCancelError] = useState<string>();
  const job = useAsyncRetry(() => api.getJob(props.jobId), [api, props.jobId]);
  const active = job.value ? ACTIVE.includes(job.value.state) : true;
  useInterval(
    () => {
      job.retry();
      setTick(t => t + 1);
      if (job.value && !ACTIVE.includes(job.value.state)) {
        props.onFinished();
      }
    },
    active ? POLL_MS : null,
  );
  if (!job.value) {
    return job.error ? <ResponseErrorPanel error={job.error} /> : <Progress />;
  }
  const j = job.value;
  const progress = scanProgress(j);
  return (
    <InfoCard
      title={`Scan ${j.id.slice(0, 8)}`}
      subheader={
        <Box display="flex" alignItems="center" style={{ gap: 8 }}>
          <StatePill state={j.state} />
          <span>
            {typeof j.params?.path === 'string' ? `${j.params.path}, ` : ''}
            started {formatTime(j.startedAt ?? j.createdAt)}
            {j.finishedAt && `, finished ${formatTime(j.finishedAt)}`}
          </span>
        </Box>
      }
      action={
        ACTIVE.includes(j.state) ? (
          <Box mt={1} mr={1}>
            <Button
              size="small"
              variant="outlined"
              onClick={() =>
                api
                  .cancelJob(j.id)
                  .then(() => job.retry())
                  .catch(e => setCancelError(messageOf(e)))
              }
            >
              Cancel scan
            </Button>
          </Box>
        ) : undefined
      }
    >
      <Box mb={2} data-testid="scan-progress">
        <LinearProgress
          variant={
            progress.fraction === undefined ? 'indeterminate' : 'determinate'
          }
          value={
            progress.fraction === undefined
              ? undefined
              : progress.fraction * 100
          }
          aria-label="Scan progress"
        />
        <Typography variant="body2">
          {progress.fraction !== undefined &&
            `${Math.floor(progress.fraction * 100)}% `}
          {progress.text}
        </Typography>
        {progress.current && ACTIVE.includes(j.state) && (
          <Typography variant="caption" color="textSecondary">
            {progress.current}
          </Typography>
        )}
      </Box>
      {cancelError && <Alert severity="error">{cancelError}</Alert>}
      {j.error && (
        <Typography color="error" variant="body2" gutterBottom>
          {j.error}
        </Typography>
      )}
      {progress.models.length > 0 && (
        <Table size="small" aria-label="Scanned models">
          <TableHead>
            <TableRow>
              <TableCell>Folder</TableCell>
              <TableCell>Model</TableCell>
              <TableCell>Version</TableCell>
              <TableCell align="right">Files</TableCell>
              <TableCell align="right">Size</TableCell>
              <TableCell>New</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {progress.models.map(m => (
              <TableRow key={m.path}>
                <TableCell>
                  <code>{m.path}</code>
                </TableCell>
                <TableCell>
                  <Link to={links.catalog(m.modelRef)}>
                    {m.modelRef.replace(/^model:(default\/)?/, '')}
                  </Link>
                </TableCell>
                <TableCell>{m.version}</TableCell>
                <TableCell align="right">{m.files}</TableCell>
                <TableCell align="right">{formatBytes(m.bytes)}</TableCell>
                <TableCell>{m.created ? 'new model' : 'new version'}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {progress.skipped.length > 0 && (
        <Box mt={2}>
          <Typography variant="subtitle2">Skipped</Typography>
          <List dense aria-label="Skipped">
            {progress.skipped.map(s => (
              <ListItem key={s} disableGutters>
                <ListItemText primary={s} />
              </ListItem>
            ))}
          </List>
        </Box>
      )}
      <Box mt={2}>
        <Typography variant="subtitle2">Log</Typography>
        <JobLogs jobId={j.id} tick={tick} />
      </Box>
    </InfoCard>
  );
}

function LocalScan() {
  const api = useApi(modelHubApiRef);
  const [path, setPath] = useState('.');
  const [owner, setOwner] = useState('');
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<{
    severity: 'warning' | 'error';
    message: string;
  }>();
  const [followed, setFollowed] = useState<string>();
  const status = useAsync(() => api.getScanStatus(), [api]);
  const scans = useAsyncRetry(
    () => api.listJobs({ type: 'local-scan', limit: 10 }),
    [api],
  );
  const current =
    followed ??
    scans.value?.items.find(j => ACTIVE.includes(j.state))?.id ??
    scans.value?.items[0]?.id;

  if (status.loading) {
    return <Progress />;
  }
  if (status.error) {
    return <ResponseErrorPanel error={status.error} />;
  }
  if (!status.value?.enabled) {
    return (
      <EmptyState
        missing="info"
        title="Local scanning is off"
        description="Set modelHub.scan.root in the backend configuration to the folder whose org/name sub-folders hold models."
      />
    );
  }

  const start = async () => {
    setBusy(true);
    setFeedback(undefined);
    try {
      const started = await api.startLocalScan({
        path: path.trim() || '.',
        owner: owner.trim() || undefined,
      });
      setFollowed(started.jobId);
      scans.retry();
    } catch (e) {
      if (isConflict(e)) {
        // another scan runs: follow that one
        setFeedback({
          severity: 'warning',
          message: `A scan is already queued or running; following it. ${messageOf(
            e,
          )}`,
        });
        const id = /[0-9a-f]{8}-[0-9a-f-]{27}/i.exec(messageOf(e))?.[0];
        setFollowed(id);
        scans.retry();
      } else {
        setFeedback({ severity: 'error', message: messageOf(e) });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Grid container spacing={3}>
      <Grid item xs={12} md={4}>
        <InfoCard title="Start a scan">
          <Typography variant="body2" paragraph>
            Registers the models in <code>org/name</code> folders under{' '}
            <code>{status.value.root ?? 'the scan root'}</code>; every file is
            hashed, stored and inspected like an upload.
          </Typography>
          <Box display="flex" flexDirection="column" style={{ gap: 12 }}>
            <TextField
              id="model-hub-scan-path"
              label="Folder"
              helperText="Relative to the scan root"
              size="small"
              variant="outlined"
              value={path}
              onChange={e => setPath(e.target.value)}
            />
            <TextField
              id="model-hub-scan-owner"
              label="Owner (optional)"
              placeholder="group:default/ml-engineers"
              size="small"
              variant="outlined"
              value={owner}
              onChange={e => setOwner(e.target.value)}
            />
            <Button
              variant="contained"
              color="primary"
              disabled={busy}
              onClick={start}
            >
              Start scan
            </Button>
            {feedback && (
              <Alert severity={feedback.severity}>{feedback.message}</Alert>
            )}
          </Box>
        </InfoCard>
        {scans.value && scans.value.items.length > 0 && (
          <Box mt={3}>
            <InfoCard title="Recent scans" noPadding>
              <List dense aria-label="Recent scans">
                {scans.value.items.map(j => (
                  <ListItem
                    key={j.id}
                    button
                    selected={j.id === current}
                    onClick={() => setFollowed(j.id)}
                  >
                    <ListItemText
                      primary={`${j.id.slice(0, 8)} ${
                        typeof j.params?.path === 'string' ? j.params.path : ''
                      }`}
                      secondary={formatTime(j.createdAt)}
                    />
                    <StatePill state={j.state} />
                  </ListItem>
                ))}
              </List>
            </InfoCard>
          </Box>
        )}
      </Grid>
      <Grid item xs={12} md={8}>
        {current ? (
          <ScanJob
            key={current}
            jobId={current}
            onFinished={() => scans.retry()}
          />
        ) : (
          <Typography variant="body2" color="textSecondary">
            No scans yet.
          </Typography>
        )}
      </Grid>
    </Grid>
  );
}

/**
 * The local scan page for administrators: starts a scan job of a folder
 * under the configured scan root and follows its progress, the models it
 * registered, the files it skipped and its log.
 *
 * @public
 */
export function LocalScanPage() {
  const admin = usePermission({ permission: modelHubAdminPermission });
  if (admin.loading) {
    return (
      <Content>
        <Progress />
      </Content>
    );
  }
  if (!admin.allowed) {
    return (
      <Content>
        <WarningPanel
          severity="info"
          title="Administrators only"
          message="Scanning local folders needs the model-hub.admin permission."
        />
      </Content>
    );
  }
  return (
    <Content>
      <LocalScan />
    </Content>
  );
}
