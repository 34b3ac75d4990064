import {
  Content,
  ContentHeader,
  EmptyState,
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import {
  alertApiRef,
  identityApiRef,
  useApi,
} from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Checkbox from '@material-ui/core/Checkbox';
import FormControlLabel from '@material-ui/core/FormControlLabel';
import IconButton from '@material-ui/core/IconButton';
import LinearProgress from '@material-ui/core/LinearProgress';
import MenuItem from '@material-ui/core/MenuItem';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { makeStyles } from '@material-ui/core/styles';
import Autocomplete from '@material-ui/lab/Autocomplete';
import PauseIcon from '@material-ui/icons/Pause';
import PlayArrowIcon from '@material-ui/icons/PlayArrow';
import CloseIcon from '@material-ui/icons/Close';
import { DragEvent, useCallback, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useAsync from 'react-use/esm/useAsync';
import { HubModelSummary, modelHubApiRef } from '../../api';
import { formatBytes, formatDuration, humanize } from '../../lib/format';
import { isNotFound, useHubLinks } from '../../lib/hooks';
import { CreateVersionDialog } from '../ModelVersionsContent/CreateVersionDialog';
import { StatePill } from '../StatePill';
import { Uploader, UploadTask, tusUploader } from './tusUploader';

const MUTABLE = ['draft', 'changes_requested'];

type Status = 'starting' | 'uploading' | 'paused' | 'done' | 'failed';

type Entry = {
  id: string;
  file: File;
  /** A ZIP package imported as a new version (not resumable). */
  isPackage?: boolean;
  path: string;
  status: Status;
  sent: number;
  total: number;
  /** Bytes per second, smoothed. */
  speed?: number;
  resumedAt?: number;
  error?: string;
};

const useStyles = makeStyles(theme => ({
  drop: {
    border: `2px dashed ${theme.palette.divider}`,
    borderRadius: theme.shape.borderRadius,
    padding: theme.spacing(4),
    textAlign: 'center',
    cursor: 'pointer',
  },
  dropActive: {
    borderColor: theme.palette.primary.main,
    backgroundColor: theme.palette.action.hover,
  },
}));

/** The path of a dropped or chosen file in the version. */
function filePath(file: File, folder: string) {
  const relative =
    (file as File & { webkitRelativePath?: string }).webkitRelativePath ||
    file.name;
  const prefix = folder.trim().replace(/^\/+|\/+$/g, '');
  return prefix ? `${prefix}/${relative}` : relative;
}

let nextId = 0;

/** An exponential moving average of the upload speed. */
function smooth(previous: number | undefined, rate: number | undefined) {
  if (rate === undefined) {
    return previous;
  }
  return previous === undefined ? rate : 0.7 * previous + 0.3 * rate;
}

function dropHint(ready: boolean, packagesAllowed: boolean) {
  if (ready) {
    return 'Drop files or a ZIP package here, or click to choose';
  }
  if (packagesAllowed) {
    return 'Drop a ZIP package here, or choose a draft version for files';
  }
  return 'Choose a model and a draft version first';
}

/** Props of {@link UploadPage}. @public */
export type UploadPageProps = {
  /** @internal The upload implementation; tus by default. */
  uploader?: Uploader;
};

/**
 * Uploads files or ZIP packages into a draft version: drag and drop,
 * per-file progress with speed and ETA, pause and resume, and resume of
 * interrupted uploads after a page reload (tus).
 *
 * @public
 */
export function UploadPage(props: UploadPageProps) {
  const uploader = props.uploader ?? tusUploader;
  const classes = useStyles();
  const api = useApi(modelHubApiRef);
  const identityApi = useApi(identityApiRef);
  const alertApi = useApi(alertApiRef);
  const links = useHubLinks();
  const [params, setParams] = useSearchParams();
  const modelRef = params.get('model') ?? '';
  const label = params.get('version') ?? '';
  const [search, setSearch] = useState('');
  const [folder, setFolder] = useState('');
  const [unpackZip, setUnpackZip] = useState(true);
  const [packageLabel, setPackageLabel] = useState('');
  const [creating, setCreating] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [submitting, setSubmitting] = useState(false);
  const tasks = useRef(new Map<string, UploadTask>());
  const inputRef = useRef<HTMLInputElement>(null);

  const permission = usePermission({
    permission: modelHubArtifactUploadPermission,
    resourceRef: modelRef || undefined,
  });

  const options = useAsync(
    async () =>
      (await api.listModels({ q: search || undefined, limit: 20 })).items,
    [api, search],
  );
  const model = useAsyncRetry(async () => {
    if (!modelRef) {
      return undefined;
    }
    try {
      return await api.getModel(modelRef);
    } catch (e) {
      if (isNotFound(e)) {
        return null;
      }
      throw e;
    }
  }, [api, modelRef]);
  const interrupted = useAsyncRetry(
    () => uploader.findInterrupted(),
    [uploader],
  );

  const versions = model.value?.versions ?? [];
  const version = versions.find(v => v.label === label);
  const ready = Boolean(
    modelRef &&
      version &&
      MUTABLE.includes(version.state) &&
      permission.allowed,
  );
  const packagesAllowed = Boolean(
    modelRef && model.value && permission.allowed && unpackZip,
  );
  const canDrop = ready || packagesAllowed;

  const setTarget = (next: { model?: string; version?: string }) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v) {
        p.set(k, v);
      } else {
        p.delete(k);
      }
    }
    setParams(p, { replace: true });
  };

  const update = useCallback((id: string, patch: Partial<Entry>) => {
    setEntries(list => list.map(e => (e.id === id ? { ...e, ...patch } : e)));
  }, []);

  // stop running uploads when the page goes away; tus resumes them later
  useEffect(() => {
    const running = tasks.current;
    return () => {
      running.forEach(t => {
        t.pause().catch(() => {});
      });
    };
  }, []);

  const startFile = async (entry: Entry) => {
    let last = { time: Date.now(), bytes: 0 };
    const getToken = async () => (await identityApi.getCredentials()).token;
    try {
      const callbacks = {
        onProgress(sent: number, total: number) {
          const now = Date.now();
          const dt = (now - last.time) / 1000;
          if (dt >= 0.25 || sent === total) {
            const rate = dt > 0 ? (sent - last.bytes) / dt : undefined;
            last = { time: now, bytes: sent };
            setEntries(list =>
              list.map(e =>
                e.id === entry.id
                  ? {
                      ...e,
                      sent,
                      total,
                      status: e.status === 'paused' ? 'paused' : 'uploading',
                      speed: smooth(e.speed, rate),
                    }
                  : e,
              ),
            );
          }
        },
        onSuccess() {
          tasks.current.delete(entry.id);
          update(entry.id, { status: 'done', sent: entry.file.size });
          interrupted.retry();
          if (entry.isPackage) {
            model.retry();
          }
        },
        onError(error: Error) {
          update(entry.id, { status: 'failed', error: error.message });
        },
      };
      const task = entry.isPackage
        ? await uploader.createPackage({
            url: await api.getPackageUploadUrl(
              modelRef,
              packageLabel.trim() || undefined,
            ),
            file: entry.file,
            getToken,
            callbacks,
          })
        : await uploader.create({
            endpoint: await api.getUploadEndpoint(),
            file: entry.file,
            metadata: {
              model: modelRef,
              version: label,
              path: entry.path,
              filename: entry.file.name,
            },
            getToken,
            callbacks,
          });
      tasks.current.set(entry.id, task);
      last = { time: Date.now(), bytes: task.resumedAt };
      update(entry.id, {
        status: 'uploading',
        resumedAt: task.resumedAt || undefined,
        sent: task.resumedAt,
      });
      task.start();
    } catch (e) {
      update(entry.id, { status: 'failed', error: (e as Error).message });
    }
  };

  const addFiles = (files: FileList | File[]) => {
    const added: Entry[] = [];
    for (const file of Array.from(files)) {
      const isPackage = unpackZip && /\.zip$/i.test(file.name);
      if (isPackage ? !packagesAllowed : !ready) {
        alertApi.post({
          message: isPackage
            ? `Choose a model you may upload to before importing ${file.name}`
            : `Choose a draft version before uploading ${file.name}`,
          severity: 'warning',
        });
        continue;
      }
      added.push({
        id: `upload-${++nextId}`,
        file,
        isPackage,
        path: isPackage ? `${file.name} (package)` : filePath(file, folder),
        status: 'starting',
        sent: 0,
        total: file.size,
      });
    }
    setEntries(list => [...list, ...added]);
    added.forEach(e => {
      startFile(e);
    });
  };

  const pause = async (entry: Entry) => {
    update(entry.id, { status: 'paused', speed: undefined });
    await tasks.current.get(entry.id)?.pause();
  };
  const resume = (entry: Entry) => {
    const task = tasks.current.get(entry.id);
    update(entry.id, { status: 'uploading', error: undefined });
    if (task) {
      task.start();
    } else {
      startFile(entry);
    }
  };
  const remove = async (entry: Entry) => {
    const task = tasks.current.get(entry.id);
    tasks.current.delete(entry.id);
    setEntries(list => list.filter(e => e.id !== entry.id));
    if (task && entry.status !== 'done') {
      await task.abort().catch(() => {});
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    addFiles(event.dataTransfer.files);
  };

  const submit = async () => {
    setSubmitting(true);
    try {
      const current = await api.getVersion(modelRef, label);
      await api.submitVersion(modelRef, label, { revision: current.revision });
      alertApi.post({
        message: `Version ${label} submitted for review`,
        severity: 'success',
        display: 'transient',
      });
      model.retry();
    } catch (e) {
      alertApi.post({ message: (e as Error).message, severity: 'error' });
    } finally {
      setSubmitting(false);
    }
  };

  const active = entries.some(
    e => e.status === 'uploading' || e.status === 'starting',
  );
  const done = entries.filter(e => e.status === 'done').length;
  const pending = (interrupted.value ?? []).filter(
    u => !entries.some(e => e.path === u.path && e.status !== 'failed'),
  );

  const selectedOption =
    (options.value ?? []).find(m => m.entityRef === modelRef) ??
    (model.value
      ? ({ ...model.value, versions: undefined } as unknown as HubModelSummary)
      : null);

  return (
    <Content>
      <ContentHeader title="Upload files" />
      <InfoCard title="Target">
        <Box
          display="flex"
          flexWrap="wrap"
          style={{ gap: 16 }}
          alignItems="center"
        >
          <Autocomplete<HubModelSummary>
            style={{ minWidth: 320 }}
            options={options.value ?? []}
            loading={options.loading}
            value={selectedOption}
            getOptionLabel={m => m.title ?? m.name}
            getOptionSelected={(a, b) => a.entityRef === b.entityRef}
            onInputChange={(_e, value, reason) => {
              if (reason === 'input') {
                setSearch(value);
              }
            }}
            onChange={(_e, m) =>
              setTarget({ model: m?.entityRef, version: undefined })
            }
            renderInput={p => (
              <TextField
                {...p}
                label="Model"
                variant="outlined"
                size="small"
                inputProps={{ ...p.inputProps, 'aria-label': 'Model' }}
              />
            )}
          />
          <TextField
            select
            label="Version"
            variant="outlined"
            size="small"
            style={{ minWidth: 200 }}
            value={version ? label : ''}
            disabled={!model.value}
            onChange={e => setTarget({ version: e.target.value })}
            SelectProps={{ inputProps: { 'aria-label': 'Version' } }}
          >
            {versions.map(v => (
              <MenuItem
                key={v.id}
                value={v.label}
                disabled={!MUTABLE.includes(v.state)}
              >
                {v.label} ({humanize(v.state)})
              </MenuItem>
            ))}
          </TextField>
          <Button
            variant="outlined"
            disabled={!modelRef || !permission.allowed}
            onClick={() => setCreating(true)}
          >
            New version
          </Button>
          {version && <StatePill state={version.state} />}
          {modelRef && (
            <Link to={links.catalog(modelRef)}>Open the model page</Link>
          )}
        </Box>
        {model.error && <ResponseErrorPanel error={model.error} />}
        {model.value === null && (
          <Typography color="error" variant="body2">
            {modelRef} is not a Model Hub model.
          </Typography>
        )}
        {modelRef && !permission.loading && !permission.allowed && (
          <Typography color="error" variant="body2">
            You may not upload files to {modelRef}.
          </Typography>
        )}
        {version && !MUTABLE.includes(version.state) && (
          <Typography color="error" variant="body2">
            Version {version.label} is{' '}
            {humanize(version.state).toLocaleLowerCase('en-US')}; only drafts
            and versions with changes requested accept files.
          </Typography>
        )}
      </InfoCard>

      {pending.length > 0 && (
        <Box mt={3}>
          <InfoCard title="Interrupted uploads">
            <Typography variant="body2" gutterBottom>
              Drop these files again to resume where they stopped.
            </Typography>
            <ul aria-label="Interrupted uploads">
              {pending.map(u => (
                <li key={u.key}>
                  <code>{u.path}</code> ({formatBytes(u.size)}) into{' '}
                  {u.model.replace(/^model:(default\/)?/, '')} {u.version}{' '}
                  {(u.model !== modelRef || u.version !== label) && (
                    <Button
                      size="small"
                      onClick={() =>
                        setTarget({ model: u.model, version: u.version })
                      }
                    >
                      Select target
                    </Button>
                  )}
                  <Button
                    size="small"
                    onClick={() =>
                      uploader.forget(u.key).then(() => interrupted.retry())
                    }
                  >
                    Forget
                  </Button>
                </li>
              ))}
            </ul>
          </InfoCard>
        </Box>
      )}

      <Box mt={3}>
        <InfoCard title="Files">
          <Box display="flex" style={{ gap: 16 }} mb={2} alignItems="center">
            <TextField
              id="model-hub-upload-folder"
              label="Folder in the version (optional)"
              size="small"
              variant="outlined"
              value={folder}
              onChange={e => setFolder(e.target.value)}
            />
            <FormControlLabel
              control={
                <Checkbox
                  checked={unpackZip}
                  onChange={e => setUnpackZip(e.target.checked)}
                  color="primary"
                />
              }
              label="Import ZIP packages as a new version"
            />
            {unpackZip && (
              <TextField
                id="model-hub-package-label"
                label="Package version label (optional)"
                size="small"
                variant="outlined"
                value={packageLabel}
                onChange={e => setPackageLabel(e.target.value)}
                helperText="Default: the version in the package manifest"
              />
            )}
          </Box>
          <div
            role="button"
            tabIndex={0}
            aria-label="Drop files here or choose files"
            aria-disabled={!canDrop}
            className={`${classes.drop} ${dragging ? classes.dropActive : ''}`}
            onDragOver={e => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
            onClick={() => canDrop && inputRef.current?.click()}
            onKeyDown={e => {
              if (canDrop && (e.key === 'Enter' || e.key === ' ')) {
                inputRef.current?.click();
              }
            }}
          >
            <Typography variant="h6">
              {dropHint(ready, packagesAllowed)}
            </Typography>
            <Typography variant="body2" color="textSecondary">
              Uploads resume after a network error or a page reload.
            </Typography>
            <input
              ref={inputRef}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={e => {
                if (e.target.files) {
                  addFiles(e.target.files);
                }
                e.target.value = '';
              }}
            />
          </div>

          {entries.length > 0 && (
            <Table size="small" aria-label="Uploads">
              <TableHead>
                <TableRow>
                  <TableCell>Path</TableCell>
                  <TableCell style={{ width: '30%' }}>Progress</TableCell>
                  <TableCell align="right">Speed</TableCell>
                  <TableCell align="right">ETA</TableCell>
                  <TableCell>Status</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {entries.map(e => {
                  const percent = e.total ? (100 * e.sent) / e.total : 100;
                  const eta =
                    e.speed && e.status === 'uploading'
                      ? (e.total - e.sent) / e.speed
                      : undefined;
                  return (
                    <TableRow key={e.id} data-path={e.path}>
                      <TableCell>
                        <code>{e.path}</code>
                        <Typography variant="caption" display="block">
                          {formatBytes(e.total)}
                          {e.resumedAt
                            ? `, resumed at ${formatBytes(e.resumedAt)}`
                            : ''}
                        </Typography>
                      </TableCell>
                      <TableCell>
                        <LinearProgress
                          variant="determinate"
                          value={percent}
                          aria-label={`Progress of ${e.path}`}
                        />
                        <Typography variant="caption">
                          {Math.floor(percent)}% ({formatBytes(e.sent)})
                        </Typography>
                      </TableCell>
                      <TableCell align="right">
                        {e.speed && e.status === 'uploading'
                          ? `${formatBytes(e.speed)}/s`
                          : '–'}
                      </TableCell>
                      <TableCell align="right">{formatDuration(eta)}</TableCell>
                      <TableCell>
                        {e.status === 'failed' ? (
                          <Typography color="error" variant="body2">
                            Failed: {e.error}
                          </Typography>
                        ) : (
                          humanize(e.status)
                        )}
                      </TableCell>
                      <TableCell align="right">
                        {e.status === 'uploading' && !e.isPackage && (
                          <IconButton
                            size="small"
                            aria-label={`Pause ${e.path}`}
                            onClick={() => pause(e)}
                          >
                            <PauseIcon fontSize="small" />
                          </IconButton>
                        )}
                        {(e.status === 'paused' || e.status === 'failed') && (
                          <IconButton
                            size="small"
                            aria-label={`Resume ${e.path}`}
                            onClick={() => resume(e)}
                          >
                            <PlayArrowIcon fontSize="small" />
                          </IconButton>
                        )}
                        <IconButton
                          size="small"
                          aria-label={`Remove ${e.path}`}
                          onClick={() => remove(e)}
                        >
                          <CloseIcon fontSize="small" />
                        </IconButton>
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          )}
          <Box mt={2} display="flex" style={{ gap: 16 }} alignItems="center">
            <Button
              variant="contained"
              color="primary"
              disabled={
                !ready ||
                active ||
                submitting ||
                (done === 0 && !version?.fileCount)
              }
              onClick={submit}
            >
              Submit for review
            </Button>
            {entries.length > 0 && (
              <Typography variant="body2">
                {done} of {entries.length} files uploaded
              </Typography>
            )}
          </Box>
        </InfoCard>
      </Box>
      {modelRef && (
        <CreateVersionDialog
          model={modelRef}
          open={creating}
          onClose={() => setCreating(false)}
          onCreated={v => {
            setCreating(false);
            setTarget({ version: v.label });
            model.retry();
          }}
        />
      )}
      {model.loading && !model.value && <Progress />}
      {!modelRef &&
        (options.value ?? []).length === 0 &&
        !options.loading &&
        !search && (
          <EmptyState
            missing="data"
            title="No models to upload to"
            description="Create or import a model first."
          />
        )}
    </Content>
  );
}
