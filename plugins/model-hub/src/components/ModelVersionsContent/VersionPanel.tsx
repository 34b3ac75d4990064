import {
  InfoCard,
  LinkButton,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubArtifactDownloadPermission,
  modelHubArtifactUploadPermission,
  modelHubSyncTriggerPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import Tab from '@material-ui/core/Tab';
import Tabs from '@material-ui/core/Tabs';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import {
  HubActiveVersionState,
  HubModel,
  HubVersion,
  modelHubApiRef,
} from '../../api';
import { formatBytes } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { FileBrowser } from '../FileBrowser';
import { ModelCardView } from '../ModelCardView';
import { StatePill } from '../StatePill';
import {
  ApprovalTimeline,
  VersionChecks,
  VersionDiffView,
} from '../VersionReview';
import { DeleteVersionButton } from '../DeleteActions';
import { CommentThread, VersionActions } from '../VersionActions';
import { ExportVersionButton, ImportedEvidence } from '../Transfer';
import { HowToUse } from './HowToUse';
import { withRemoteFiles } from './remoteFiles';
import {
  downloadBlob,
  expandFolders,
  MUTABLE,
  rollbackTargetOf,
  WAIVABLE,
} from './versionHelpers';

/** The selected version: its actions and tabs. */
export function VersionPanel(props: {
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
  /** Changes when the files may have changed (a job of the model ended). */
  filesKey?: unknown;
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
  }, [
    api,
    entityRef,
    version.label,
    version.revision,
    hfRepoId,
    props.filesKey,
  ]);
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
