import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  EmptyState,
  InfoCard,
  LinkButton,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubArtifactDownloadPermission,
  modelHubArtifactUploadPermission,
  modelHubSyncTriggerPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Chip from '@material-ui/core/Chip';
import Grid from '@material-ui/core/Grid';
import Tab from '@material-ui/core/Tab';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Tabs from '@material-ui/core/Tabs';
import { useCallback, useEffect, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import useAsync from 'react-use/esm/useAsync';
import { ModelSourceCard } from '../SourcesPage/ModelSourceCard';
import {
  HfRepo,
  HubActiveVersionState,
  HubModel,
  HubVersion,
  modelHubApiRef,
} from '../../api';
import { formatBytes, formatTime } from '../../lib/format';
import { isNotFound, useHubLinks } from '../../lib/hooks';
import { FileBrowser } from '../FileBrowser';
import { ModelCardView } from '../ModelCardView';
import { StatePill } from '../StatePill';
import {
  ApprovalTimeline,
  VersionChecks,
  VersionDiffView,
} from '../VersionReview';
import { DeleteModelButton, DeleteVersionButton } from '../DeleteActions';
import { EditModelButton } from '../EditModel';
import { DriftBanner, showsDrift, syncOfRepo } from '../DriftBanner';
import { CommentThread, VersionActions } from '../VersionActions';
import { ExportVersionButton, ImportedEvidence } from '../Transfer';
import { CreateVersionDialog } from './CreateVersionDialog';
import { HowToUse } from './HowToUse';
import { withRemoteFiles } from './remoteFiles';

const MUTABLE = ['draft', 'changes_requested'];
/** States in which failed checks may still be waived. */
const WAIVABLE = ['draft', 'changes_requested', 'in_review'];

/** The earlier approved active version a rollback goes back to. */
function rollbackTargetOf(
  active: HubActiveVersionState | undefined,
  versions: HubVersion[],
): string | undefined {
  const current = active?.active?.label;
  if (!current) {
    return undefined;
  }
  const approved = new Set(
    versions.filter(v => v.state === 'approved').map(v => v.label),
  );
  return active?.history.find(
    c => c.label && c.label !== current && approved.has(c.label),
  )?.label;
}

/** The Hugging Face repository of a model source, if it has one. */
function huggingFaceRepoOf(source: unknown): string | undefined {
  if (
    typeof source === 'object' &&
    source !== null &&
    'huggingface' in source
  ) {
    const repo = (source as { huggingface?: { repo?: unknown } }).huggingface
      ?.repo;
    return typeof repo === 'string' ? repo : undefined;
  }
  return undefined;
}

/** Folder paths → the paths of the files under them. */
function expandFolders(
  files: Array<{ path: string; location?: string }>,
  paths: string[],
): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const matching = files.filter(
      f =>
        (f.path === p || f.path.startsWith(`${p}/`)) && f.location === 'remote',
    );
    if (matching.length === 0) {
      out.add(p);
    }
    matching.forEach(f => out.add(f.path));
  }
  return [...out];
}

/** The version shown first: the newest approved one, else the newest. */
function defaultVersion(versions: HubVersion[]) {
  return versions.find(v => v.state === 'approved') ?? versions[0];
}

function downloadBlob(blob: Blob, path: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = path.split('/').pop() ?? 'download';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function VersionPanel(props: {
  entityRef: string;
  namespace: string;
  name: string;
  version: HubVersion;
  /** The hub's model (origin, orphaned). */
  model?: Pick<HubModel, 'entityRef' | 'orphanedAt'>;
  /** The Hugging Face repository the model syncs from. */
  hfRepoId?: string;
  /** The active version of the model (undefined: not known). */
  active?: HubActiveVersionState;
  /** The model's versions. */
  versions?: HubVersion[];
  onChanged(): void;
  /** After the version was deleted. */
  onDeleted?(): void;
}) {
  const { entityRef, namespace, name, version, hfRepoId } = props;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const links = useHubLinks();
  const [tab, setTab] = useState(0);
  const download = usePermission({
    permission: modelHubArtifactDownloadPermission,
    resourceRef: entityRef,
  });
  const sync = usePermission({
    permission: modelHubSyncTriggerPermission,
    resourceRef: entityRef,
  });
  const upload = usePermission({
    permission: modelHubArtifactUploadPermission,
    resourceRef: entityRef,
  });
  const files = useAsyncRetry(async () => {
    const [list, repo] = await Promise.all([
      api.listFiles(entityRef, version.label),
      // files of the synced commit that the hub has not stored yet
      hfRepoId && version.sourceType === 'huggingface'
        ? api.getHuggingFaceRepo(hfRepoId).catch(() => undefined)
        : undefined,
    ]);
    return withRemoteFiles(list, version, repo);
  }, [api, entityRef, version.label, version.revision, hfRepoId]);
  const [, setBusy] = useState(false);

  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
      alertApi.post({
        message: what,
        severity: 'success',
        display: 'transient',
      });
      props.onChanged();
    } catch (e) {
      alertApi.post({
        message: `${(e as Error).message}`,
        severity: 'error',
      });
    } finally {
      setBusy(false);
    }
  };

  const largestWeights = files.value?.files
    .filter(f => f.kind === 'weights')
    .sort((a, b) => b.size - a.size)[0];

  const mutable = MUTABLE.includes(version.state);
  return (
    <InfoCard
      title={`Version ${version.label}`}
      subheader={
        <Box display="flex" alignItems="center" style={{ gap: 8 }}>
          <StatePill state={version.state} />
          <span>
            {version.fileCount} files, {formatBytes(version.totalSize)}
            {version.resolvedCommit &&
              `, commit ${version.resolvedCommit.slice(0, 12)}`}
          </span>
        </Box>
      }
      action={
        <Box display="flex" style={{ gap: 8 }} mt={1} mr={1}>
          {mutable && upload.allowed && (
            <LinkButton
              to={links.hub('upload', {
                model: entityRef,
                version: version.label,
              })}
              variant="outlined"
              size="small"
            >
              Upload files
            </LinkButton>
          )}
          <DeleteVersionButton
            model={props.model ?? { entityRef }}
            version={version}
            onDeleted={() => (props.onDeleted ?? props.onChanged)()}
          />
          <ExportVersionButton model={entityRef} version={version} />
        </Box>
      }
    >
      <ImportedEvidence model={entityRef} label={version.label} />
      <Box mb={2}>
        <VersionActions
          model={entityRef}
          version={version}
          activeLabel={
            props.active === undefined
              ? undefined
              : props.active.active?.label ?? null
          }
          activeVersion={props.versions?.find(
            v => v.label === props.active?.active?.label,
          )}
          rollbackTarget={rollbackTargetOf(props.active, props.versions ?? [])}
          onChanged={props.onChanged}
        />
      </Box>
      <Tabs
        value={tab}
        onChange={(_e, v) => setTab(v)}
        indicatorColor="primary"
        variant="scrollable"
      >
        <Tab label="Files" />
        <Tab label="Model card" />
        <Tab label="Checks" />
        <Tab label="Approvals" />
        <Tab label="Comments" />
        <Tab label="How to use" />
      </Tabs>
      <Box pt={2}>
        {tab === 0 && files.loading && <Progress />}
        {tab === 0 && files.error && <ResponseErrorPanel error={files.error} />}
        {tab === 0 && files.value && (
          <FileBrowser
            tree={files.value!.tree}
            canDownload={download.allowed}
            canFetch={sync.allowed}
            onDownload={path =>
              api
                .downloadFile(entityRef, version.label, path)
                .then(blob => downloadBlob(blob, path))
                .catch(e =>
                  alertApi.post({ message: e.message, severity: 'error' }),
                )
            }
            onFetch={
              hfRepoId && version.sourceType === 'huggingface'
                ? paths =>
                    run(`Fetching ${paths.join(', ')} from Hugging Face`, () =>
                      api.downloadFromHuggingFace(hfRepoId, {
                        version: version.label,
                        files: expandFolders(files.value!.files, paths),
                      }),
                    )
                : undefined
            }
          />
        )}
        {tab === 1 && files.value && (
          <ModelCardView
            model={entityRef}
            version={version}
            files={files.value.files}
          />
        )}
        {tab === 2 && (
          <Grid container spacing={3}>
            <Grid item xs={12} md={6}>
              <VersionChecks
                model={entityRef}
                label={version.label}
                waivable={WAIVABLE.includes(version.state)}
                onWaived={props.onChanged}
              />
            </Grid>
            <Grid item xs={12} md={6}>
              <VersionDiffView model={entityRef} label={version.label} />
            </Grid>
          </Grid>
        )}
        {tab === 3 && (
          <ApprovalTimeline
            model={entityRef}
            label={version.label}
            reloadKey={version.revision}
          />
        )}
        {tab === 4 && <CommentThread model={entityRef} label={version.label} />}
        {tab === 5 && (
          <HowToUse
            namespace={namespace}
            name={name}
            version={version}
            filePath={largestWeights?.path}
          />
        )}
      </Box>
    </InfoCard>
  );
}

/**
 * The Model Hub content of a Model entity page: its versions with their
 * states, and for the selected version a file browser, the rendered model
 * card, inspection checks, the approval timeline and a "how to use"
 * snippet.
 *
 * @public
 */
export function ModelVersionsContent() {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const namespace = entity.metadata.namespace ?? 'default';
  const name = entity.metadata.name;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const [selected, setSelected] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [reload, setReload] = useState(0);
  const refresh = useCallback(() => setReload(r => r + 1), []);
  const createVersion = usePermission({
    permission: modelHubVersionCreatePermission,
    resourceRef: entityRef,
  });
  const sync = usePermission({
    permission: modelHubSyncTriggerPermission,
    resourceRef: entityRef,
  });

  const { value, loading, error } = useAsync(async () => {
    try {
      return await api.getModel(entityRef);
    } catch (e) {
      if (isNotFound(e)) {
        return undefined;
      }
      throw e;
    }
  }, [api, entityRef, reload]);

  const hfRepoIdOfModel =
    huggingFaceRepoOf(entity.spec?.source) ?? huggingFaceRepoOf(value?.source);
  // the active version and the upstream state; older backends lack them
  const active = useAsync(
    async () =>
      value
        ? api.getActiveVersion(entityRef).catch(() => undefined)
        : undefined,
    [api, entityRef, value],
  );
  // the model's sync state; backends without `model.sync` answer it per repo
  const hfRepo = useAsync(
    async (): Promise<HfRepo | undefined> =>
      value && value.sync === undefined && hfRepoIdOfModel
        ? api.getHuggingFaceRepo(hfRepoIdOfModel).catch(() => undefined)
        : undefined,
    [api, hfRepoIdOfModel, value],
  );
  const syncState =
    value?.sync ?? (hfRepo.value ? syncOfRepo(hfRepo.value) : undefined);
  const activeLabel = active.value?.active?.label;

  const versions = value?.versions ?? [];
  const current =
    versions.find(v => v.label === selected) ?? defaultVersion(versions);
  useEffect(() => {
    if (!selected && current) {
      setSelected(current.label);
    }
  }, [selected, current]);

  if (loading && !value) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }

  const hfRepoId = hfRepoIdOfModel;
  const hasHfSource = Boolean(hfRepoId);

  const newVersionButton = (
    <Button
      variant="contained"
      color="primary"
      size="small"
      disabled={!createVersion.allowed}
      title={
        createVersion.allowed
          ? undefined
          : 'You may not create versions of this model'
      }
      onClick={() => setCreating(true)}
    >
      New version
    </Button>
  );
  const dialog = (
    <CreateVersionDialog
      model={entityRef}
      open={creating}
      onClose={() => setCreating(false)}
      onCreated={v => {
        setCreating(false);
        setSelected(v.label);
        refresh();
      }}
    />
  );

  const modelDeleted = () => {
    alertApi.post({
      message: `Model ${entityRef} deleted`,
      severity: 'success',
      display: 'transient',
    });
    setSelected(undefined);
    refresh();
  };
  const orphanedPanel = value?.orphanedAt ? (
    <WarningPanel
      severity="warning"
      title="Removed from the catalog"
      message={`The catalog no longer holds this Model (since ${formatTime(
        value.orphanedAt,
      )}). Its versions stay visible and read-only; an administrator may delete it.`}
    />
  ) : undefined;

  if (versions.length === 0) {
    return (
      <>
        {orphanedPanel}
        <EmptyState
          missing="content"
          title="No versions yet"
          description="Create a draft version and upload its files, or sync it from Hugging Face."
          action={
            <Box display="flex" style={{ gap: 8 }}>
              {value && (
                <DeleteModelButton model={value} onDeleted={modelDeleted} />
              )}
              {value && <EditModelButton model={value} onChanged={refresh} />}
              {newVersionButton}
            </Box>
          }
        />
        {dialog}
      </>
    );
  }

  return (
    <Grid container spacing={3}>
      {orphanedPanel && (
        <Grid item xs={12}>
          {orphanedPanel}
        </Grid>
      )}
      {syncState && (showsDrift(syncState) || syncState.lastError) && (
        <Grid item xs={12}>
          <DriftBanner
            sync={syncState}
            versions={versions}
            onOpenVersion={setSelected}
          />
        </Grid>
      )}
      {/* the source it came from, with its problem (issue 22) */}
      <ModelSourceCard model={{ namespace, name }} gridItem />
      <Grid item xs={12}>
        <InfoCard
          title="Versions"
          subheader={
            active.value ? (
              <span data-testid="active-version">
                Active version:{' '}
                {active.value.active ? (
                  <>
                    <strong>{active.value.active.label}</strong>, promoted by{' '}
                    {active.value.active.promotedBy.replace(
                      /^user:(default\/)?/,
                      '',
                    )}{' '}
                    {formatTime(active.value.active.promotedAt)}
                  </>
                ) : (
                  'none'
                )}
              </span>
            ) : undefined
          }
          action={
            <Box display="flex" style={{ gap: 8 }} mt={1} mr={1}>
              {hasHfSource && sync.allowed && (
                <Button
                  size="small"
                  variant="outlined"
                  onClick={() =>
                    api
                      .triggerSync(entityRef)
                      .then(() =>
                        alertApi.post({
                          message: 'Sync from Hugging Face queued',
                          severity: 'success',
                          display: 'transient',
                        }),
                      )
                      .catch(e =>
                        alertApi.post({
                          message: e.message,
                          severity: 'error',
                        }),
                      )
                  }
                >
                  Sync from Hugging Face
                </Button>
              )}
              {value && (
                <DeleteModelButton model={value} onDeleted={modelDeleted} />
              )}
              {value && <EditModelButton model={value} onChanged={refresh} />}
              {newVersionButton}
            </Box>
          }
        >
          <Table size="small" aria-label="Versions">
            <TableHead>
              <TableRow>
                <TableCell>Version</TableCell>
                <TableCell>State</TableCell>
                <TableCell>Source</TableCell>
                <TableCell align="right">Files</TableCell>
                <TableCell align="right">Size</TableCell>
                <TableCell>Created by</TableCell>
                <TableCell>Created</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {versions.map(v => (
                <TableRow
                  key={v.id}
                  hover
                  selected={v.label === current?.label}
                  onClick={() => setSelected(v.label)}
                  style={{ cursor: 'pointer' }}
                  data-version={v.label}
                >
                  <TableCell>
                    <strong>{v.label}</strong>
                    {v.label === activeLabel && (
                      <Chip
                        size="small"
                        color="primary"
                        label="Active"
                        style={{ marginLeft: 8 }}
                      />
                    )}
                  </TableCell>
                  <TableCell>
                    <StatePill state={v.state} />
                  </TableCell>
                  <TableCell>
                    {v.sourceType === 'huggingface' ? 'Hugging Face' : 'Upload'}
                  </TableCell>
                  <TableCell align="right">{v.fileCount}</TableCell>
                  <TableCell align="right">
                    {formatBytes(v.totalSize)}
                  </TableCell>
                  <TableCell>
                    {v.createdBy.replace(/^user:(default\/)?/, '')}
                  </TableCell>
                  <TableCell>{formatTime(v.createdAt)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </InfoCard>
      </Grid>
      {current && (
        <Grid item xs={12}>
          <VersionPanel
            key={current.label}
            entityRef={entityRef}
            namespace={namespace}
            name={name}
            version={current}
            model={value}
            hfRepoId={hfRepoId}
            active={active.value}
            versions={versions}
            onChanged={refresh}
            onDeleted={() => {
              setSelected(undefined);
              refresh();
            }}
          />
        </Grid>
      )}
      {dialog}
    </Grid>
  );
}
