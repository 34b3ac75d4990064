import {
  Content,
  InfoCard,
  Link,
  MarkdownContent,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { identityApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubModelCreatePermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Chip from '@material-ui/core/Chip';
import Grid from '@material-ui/core/Grid';
import MenuItem from '@material-ui/core/MenuItem';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { FormEvent, useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import {
  HfImportResult,
  HfRepo,
  HfRepoPreview,
  HubSource,
  modelHubApiRef,
} from '../../api';
import { formatBytes } from '../../lib/format';
import { isNotFound, useHubLinks } from '../../lib/hooks';
import { splitFrontMatter } from '../ModelCardView';

const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;
const LIFECYCLES = ['experimental', 'production', 'deprecated'];

type PreviewState =
  | { kind: 'none' }
  | { kind: 'loading' }
  | { kind: 'preview'; preview: HfRepoPreview }
  | { kind: 'unavailable' }
  | { kind: 'registered'; repo: HfRepo }
  | { kind: 'error'; error: Error };

/**
 * Imports a Hugging Face repository: enter its id, preview its files and
 * card, and register it as a model (which queues its sync).
 *
 * @public
 */
export function HfImportPage() {
  const api = useApi(modelHubApiRef);
  const identityApi = useApi(identityApiRef);
  const links = useHubLinks();
  const [repoId, setRepoId] = useState('');
  const [revision, setRevision] = useState('main');
  const [owner, setOwner] = useState('');
  const [lifecycle, setLifecycle] = useState('experimental');
  const [preview, setPreview] = useState<PreviewState>({ kind: 'none' });
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<HfImportResult>();
  const [error, setError] = useState<Error>();
  const create = usePermission({ permission: modelHubModelCreatePermission });
  // the Hub sources a repository can be registered from; a choice only
  // when there are several (otherwise the backend's default is used)
  const [source, setSource] = useState<string>();
  const sources = useAsync(async () => {
    const page = await api.listSources();
    const hubs = page.items.filter(s => s.kind === 'huggingface');
    const initial = hubs.find(s => s.default) ?? hubs[0];
    if (hubs.length > 1 && initial) {
      setSource(current => current ?? initial.name);
    }
    return hubs;
  }, [api]);
  const hubSources: HubSource[] = sources.value ?? [];
  const chosenSource = hubSources.length > 1 ? source : undefined;

  const owners = useAsync(async () => {
    const identity = await identityApi.getBackstageIdentity();
    const refs = identity.ownershipEntityRefs.filter(r =>
      r.startsWith('group:'),
    );
    if (!owner && refs.length > 0) {
      setOwner(refs[0]);
    }
    return [...refs, identity.userEntityRef];
  }, [identityApi]);

  const valid = REPO_ID.test(repoId.trim());

  const loadPreview = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!valid) {
      return;
    }
    setPreview({ kind: 'loading' });
    setResult(undefined);
    setError(undefined);
    const id = repoId.trim();
    try {
      const existing = await api
        .getHuggingFaceRepo(
          id,
          chosenSource ? { source: chosenSource } : undefined,
        )
        .catch(e => {
          if (isNotFound(e)) {
            return undefined;
          }
          throw e;
        });
      if (existing) {
        setPreview({ kind: 'registered', repo: existing });
        return;
      }
      setPreview({
        kind: 'preview',
        preview: await api.previewHuggingFaceRepo(id, {
          revision,
          ...(chosenSource && { source: chosenSource }),
        }),
      });
    } catch (e) {
      setPreview(
        isNotFound(e)
          ? { kind: 'unavailable' }
          : { kind: 'error', error: e as Error },
      );
    }
  };

  const register = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setResult(
        await api.importHuggingFaceRepo({
          repoId: repoId.trim(),
          revision: revision.trim() || undefined,
          owner: owner || undefined,
          lifecycle,
          ...(chosenSource && { source: chosenSource }),
        }),
      );
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  const card =
    preview.kind === 'preview' && preview.preview.card
      ? splitFrontMatter(preview.preview.card).body
      : undefined;

  return (
    <Content>
      <InfoCard title="Import from Hugging Face">
        <form onSubmit={loadPreview}>
          <Box
            display="flex"
            flexWrap="wrap"
            style={{ gap: 16 }}
            alignItems="flex-start"
          >
            {hubSources.length > 1 && (
              <TextField
                select
                label="Source"
                variant="outlined"
                size="small"
                style={{ minWidth: 200 }}
                value={source ?? ''}
                onChange={e => {
                  setSource(e.target.value);
                  // a preview or registration of another source's repo
                  setPreview({ kind: 'none' });
                  setResult(undefined);
                }}
                helperText="Where the repository is"
                SelectProps={{ inputProps: { 'aria-label': 'Source' } }}
              >
                {hubSources.map(s => (
                  <MenuItem key={s.name} value={s.name}>
                    {s.endpoint ? `${s.name} (${s.endpoint})` : s.name}
                  </MenuItem>
                ))}
              </TextField>
            )}
            <TextField
              id="model-hub-import-repo"
              label="Repository"
              placeholder="org/name"
              variant="outlined"
              size="small"
              value={repoId}
              onChange={e => setRepoId(e.target.value)}
              error={repoId.length > 0 && !valid}
              helperText="The Hugging Face repository id, e.g. acme/tiny-llm"
              style={{ minWidth: 280 }}
            />
            <TextField
              id="model-hub-import-revision"
              label="Revision"
              variant="outlined"
              size="small"
              value={revision}
              onChange={e => setRevision(e.target.value)}
              helperText="Branch, tag or commit"
            />
            <TextField
              select
              label="Owner"
              variant="outlined"
              size="small"
              style={{ minWidth: 240 }}
              value={owner}
              onChange={e => setOwner(e.target.value)}
              SelectProps={{ inputProps: { 'aria-label': 'Owner' } }}
            >
              {(owners.value ?? []).map(r => (
                <MenuItem key={r} value={r}>
                  {r}
                </MenuItem>
              ))}
            </TextField>
            <TextField
              select
              label="Lifecycle"
              variant="outlined"
              size="small"
              value={lifecycle}
              onChange={e => setLifecycle(e.target.value)}
              SelectProps={{ inputProps: { 'aria-label': 'Lifecycle' } }}
            >
              {LIFECYCLES.map(l => (
                <MenuItem key={l} value={l}>
                  {l}
                </MenuItem>
              ))}
            </TextField>
            <Button type="submit" variant="outlined" disabled={!valid}>
              Preview
            </Button>
            <Button
              variant="contained"
              color="primary"
              disabled={
                !valid ||
                busy ||
                sources.loading ||
                !create.allowed ||
                preview.kind === 'registered' ||
                Boolean(result)
              }
              title={create.allowed ? undefined : 'You may not create models'}
              onClick={register}
            >
              Register
            </Button>
          </Box>
        </form>
        {!create.loading && !create.allowed && (
          <Typography variant="body2" color="error">
            You may not create models; ask an administrator.
          </Typography>
        )}
      </InfoCard>

      {error && (
        <Box mt={3}>
          <ResponseErrorPanel error={error} />
        </Box>
      )}
      {result && (
        <Box mt={3}>
          <InfoCard title="Registered">
            <Typography variant="body1">
              {result.repo.repoId} is now{' '}
              <Link to={links.catalog(result.model.entityRef)}>
                {result.model.entityRef}
              </Link>
              ; its sync is queued (job {result.jobId.slice(0, 8)}).
            </Typography>
            <Box mt={1} display="flex" style={{ gap: 8 }}>
              <Button
                component={Link as any}
                to={links.hub('jobs')}
                variant="outlined"
              >
                Watch the sync
              </Button>
              <Button
                component={Link as any}
                to={links.catalog(result.model.entityRef)}
                variant="outlined"
              >
                Open the model
              </Button>
            </Box>
          </InfoCard>
        </Box>
      )}

      <Box mt={3}>
        {preview.kind === 'loading' && <Progress />}
        {preview.kind === 'error' && (
          <ResponseErrorPanel error={preview.error} />
        )}
        {preview.kind === 'unavailable' && (
          <Typography variant="body2" color="textSecondary">
            No preview of {repoId.trim()}: the repository was not found or this
            backend cannot preview repositories. Register it to sync its files
            and card.
          </Typography>
        )}
        {preview.kind === 'registered' && (
          <Typography variant="body1">
            {preview.repo.repoId} is already registered as{' '}
            <Link to={links.catalog(preview.repo.modelRef)}>
              {preview.repo.modelRef}
            </Link>{' '}
            ({preview.repo.syncState}).
          </Typography>
        )}
        {preview.kind === 'preview' && (
          <Grid container spacing={3}>
            <Grid item xs={12} md={5}>
              <InfoCard title={`Files of ${preview.preview.repoId}`}>
                <Box display="flex" flexWrap="wrap" style={{ gap: 4 }} mb={1}>
                  {preview.preview.pipelineTag && (
                    <Chip size="small" label={preview.preview.pipelineTag} />
                  )}
                  {preview.preview.license && (
                    <Chip size="small" label={preview.preview.license} />
                  )}
                  {preview.preview.gated && (
                    <Chip size="small" label="gated" color="secondary" />
                  )}
                </Box>
                <Table size="small" aria-label="Repository files">
                  <TableHead>
                    <TableRow>
                      <TableCell>Path</TableCell>
                      <TableCell align="right">Size</TableCell>
                    </TableRow>
                  </TableHead>
                  <TableBody>
                    {preview.preview.files.map(f => (
                      <TableRow key={f.path}>
                        <TableCell>
                          <code>{f.path}</code>
                        </TableCell>
                        <TableCell align="right">
                          {formatBytes(f.size)}
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              </InfoCard>
            </Grid>
            <Grid item xs={12} md={7}>
              <InfoCard title="Model card">
                {card ? (
                  <MarkdownContent content={card} dialect="gfm" />
                ) : (
                  <Typography variant="body2" color="textSecondary">
                    The repository has no model card.
                  </Typography>
                )}
              </InfoCard>
            </Grid>
          </Grid>
        )}
      </Box>
    </Content>
  );
}
