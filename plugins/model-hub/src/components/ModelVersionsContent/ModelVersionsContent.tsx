import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  EmptyState,
  InfoCard,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubSyncTriggerPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import { useCallback, useEffect, useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { ModelSourceCard } from '../SourcesPage/ModelSourceCard';
import { HfRepo, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';
import { isNotFound } from '../../lib/hooks';
import { DeleteModelButton } from '../DeleteActions';
import { EditModelButton } from '../EditModel';
import { DriftBanner, showsDrift, syncOfRepo } from '../DriftBanner';
import { CreateVersionDialog } from './CreateVersionDialog';
import { ModelJobsCard } from './ModelJobsCard';
import { useModelJobs } from './useModelJobs';
import { VersionPanel } from './VersionPanel';
import { VersionsTable } from './VersionsTable';
import { defaultVersion, huggingFaceRepoOf } from './versionHelpers';

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
  // bumped when a job of the model ends: the selected version's files
  const [filesKey, setFilesKey] = useState(0);
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

  // the model's running syncs and downloads, live; when one ends, its new
  // versions, files and sync state are fetched again
  const jobs = useModelJobs({
    entityRef,
    modelId: value?.id,
    onFinished: () => {
      refresh();
      setFilesKey(k => k + 1);
    },
  });
  const refreshWithJobs = () => {
    refresh();
    jobs.reload();
  };

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

  const jobsCard = <ModelJobsCard jobs={jobs.jobs} isLive={jobs.isLive} />;

  if (versions.length === 0) {
    return (
      <>
        {orphanedPanel}
        {jobs.jobs.length > 0 && <Box mb={2}>{jobsCard}</Box>}
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
      {jobs.jobs.length > 0 && (
        <Grid item xs={12}>
          {jobsCard}
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
                      .then(() => {
                        alertApi.post({
                          message: 'Sync from Hugging Face queued',
                          severity: 'success',
                          display: 'transient',
                        });
                        jobs.reload();
                      })
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
          <VersionsTable
            versions={versions}
            currentLabel={current?.label}
            activeLabel={activeLabel}
            onSelect={setSelected}
          />
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
            filesKey={filesKey}
            onChanged={refreshWithJobs}
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
