import {
  Content,
  ContentHeader,
  EmptyState,
  InfoCard,
  Progress,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Checkbox from '@material-ui/core/Checkbox';
import FormControlLabel from '@material-ui/core/FormControlLabel';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { makeStyles } from '@material-ui/core/styles';
import { DragEvent, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useAsync from 'react-use/esm/useAsync';
import { HubModelSummary, modelHubApiRef } from '../../api';
import { isNotFound } from '../../lib/hooks';
import { CreateVersionDialog } from '../ModelVersionsContent/CreateVersionDialog';
import { InterruptedUploads } from './InterruptedUploads';
import { Uploader, tusUploader } from './tusUploader';
import {
  dropHint,
  Entry,
  filePath,
  MUTABLE,
  newEntryId,
} from './uploadEntries';
import { UploadsTable } from './UploadsTable';
import { UploadTarget } from './UploadTarget';
import { useUploadQueue } from './useUploadQueue';

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
  const alertApi = useApi(alertApiRef);
  const [params, setParams] = useSearchParams();
  const modelRef = params.get('model') ?? '';
  const label = params.get('version') ?? '';
  const [search, setSearch] = useState('');
  const [folder, setFolder] = useState('');
  const [unpackZip, setUnpackZip] = useState(true);
  const [packageLabel, setPackageLabel] = useState('');
  const [creating, setCreating] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [submitting, setSubmitting] = useState(false);
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
  const queue = useUploadQueue({
    uploader,
    modelRef,
    label,
    packageLabel,
    onUploaded(entry) {
      interrupted.retry();
      if (entry.isPackage) {
        model.retry();
      }
    },
  });
  const entries = queue.entries;

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
        id: newEntryId(),
        file,
        isPackage,
        path: isPackage ? `${file.name} (package)` : filePath(file, folder),
        status: 'starting',
        sent: 0,
        total: file.size,
      });
    }
    queue.add(added);
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
      <UploadTarget
        options={options.value ?? []}
        optionsLoading={options.loading}
        selectedOption={selectedOption}
        modelRef={modelRef}
        label={label}
        model={model}
        permission={permission}
        onSearch={setSearch}
        onTarget={setTarget}
        onNewVersion={() => setCreating(true)}
      />

      {pending.length > 0 && (
        <InterruptedUploads
          pending={pending}
          modelRef={modelRef}
          label={label}
          onSelectTarget={setTarget}
          onForget={key => uploader.forget(key).then(() => interrupted.retry())}
        />
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
            <UploadsTable
              entries={entries}
              onPause={queue.pause}
              onResume={queue.resume}
              onRemove={queue.remove}
            />
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
