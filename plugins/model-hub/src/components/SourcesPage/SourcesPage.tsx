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
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Chip from '@material-ui/core/Chip';
import Grid from '@material-ui/core/Grid';
import Paper from '@material-ui/core/Paper';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { HubSource, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';

/** A short word for a source's credentials and reachability. @internal */
export function sourceHealth(source: Pick<HubSource, 'status' | 'problem'>): {
  label: string;
  ok: boolean;
} {
  const { status } = source;
  if (!status.checkedAt) {
    return { label: 'Not checked yet', ok: true };
  }
  if (status.reachable === false) {
    return { label: 'Unreachable', ok: false };
  }
  if (status.credentials === 'invalid') {
    return { label: 'Credentials invalid', ok: false };
  }
  if (status.rateLimit?.limited) {
    return { label: 'Rate limited', ok: false };
  }
  if (status.credentials === 'valid') {
    return { label: 'Credentials valid', ok: true };
  }
  return {
    label:
      status.credentials === 'none' ? 'Reachable (anonymous)' : 'Reachable',
    ok: true,
  };
}

/** The health of a source as a chip. @internal */
export function SourceHealthChip(props: {
  source: Pick<HubSource, 'status' | 'problem'>;
}) {
  const health = sourceHealth(props.source);
  return (
    <Chip
      size="small"
      label={health.label}
      color={health.ok ? 'default' : 'secondary'}
      variant={health.ok ? 'outlined' : 'default'}
    />
  );
}

function reachableText(reachable: boolean | undefined): string {
  if (reachable === undefined) {
    return '–';
  }
  return reachable ? 'yes' : 'no';
}

function rateLimitText(source: HubSource): string {
  const r = source.status.rateLimit;
  if (!r) {
    return '–';
  }
  if (r.limited) {
    return `limited${
      r.resetSeconds !== undefined ? `, resets in ${r.resetSeconds} s` : ''
    }`;
  }
  if (r.remaining !== undefined) {
    return `${r.remaining}${
      r.limit !== undefined ? ` of ${r.limit}` : ''
    } left`;
  }
  return r.policy ?? 'reported';
}

function SourceModels(props: { source: HubSource }) {
  const api = useApi(modelHubApiRef);
  const { catalog } = useHubLinks();
  const { value, loading, error } = useAsyncRetry(
    () => api.listSourceModels(props.source.name, { limit: 100 }),
    [api, props.source.name],
  );
  if (loading) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  if (!value?.items.length) {
    return (
      <Typography variant="body2">
        No model came from {props.source.name} yet.
      </Typography>
    );
  }
  return (
    <Table size="small" aria-label={`Models of ${props.source.name}`}>
      <TableHead>
        <TableRow>
          <TableCell>Model</TableCell>
          <TableCell>Repository</TableCell>
          <TableCell>Sync</TableCell>
          <TableCell align="right">Versions</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {value.items.map(m => (
          <TableRow key={m.entityRef}>
            <TableCell>
              <Link to={catalog(m.entityRef)}>{m.title ?? m.name}</Link>
            </TableCell>
            <TableCell>{m.repoId ?? '–'}</TableCell>
            <TableCell>{m.syncState ?? '–'}</TableCell>
            <TableCell align="right">{m.versions}</TableCell>
          </TableRow>
        ))}
      </TableBody>
      {value.totalCount > value.items.length && (
        <caption>
          {value.items.length} of {value.totalCount} models
        </caption>
      )}
    </Table>
  );
}

function SourceDetails(props: {
  source: HubSource;
  admin: boolean;
  onChanged(): void;
}) {
  const { source, admin } = props;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const [busy, setBusy] = useState(false);
  const act = async (action: 'check' | 'delete') => {
    setBusy(true);
    try {
      if (action === 'check') {
        const checked = await api.checkSource(source.name);
        alertApi.post({
          message: `${source.name}: ${sourceHealth(checked).label}`,
          severity: checked.problem ? 'warning' : 'success',
          display: 'transient',
        });
      } else {
        await api.deleteSource(source.name);
      }
      props.onChanged();
    } catch (e) {
      alertApi.post({ message: (e as Error).message, severity: 'error' });
    } finally {
      setBusy(false);
    }
  };
  const s = source.status;
  return (
    <InfoCard
      title={`Source ${source.name}`}
      subheader={source.endpoint ?? source.root ?? source.kind}
      action={
        admin ? (
          <Box display="flex" style={{ gap: 8 }}>
            <Button
              variant="outlined"
              disabled={busy}
              onClick={() => act('check')}
            >
              Check now
            </Button>
            {source.origin === 'runtime' && (
              <Button
                variant="outlined"
                color="secondary"
                disabled={busy || source.references.models > 0}
                onClick={() => act('delete')}
              >
                Remove
              </Button>
            )}
          </Box>
        ) : undefined
      }
    >
      {source.problem && (
        <Typography color="error" role="alert" gutterBottom>
          {source.problem}
        </Typography>
      )}
      <Table size="small" aria-label={`Status of ${source.name}`}>
        <TableBody>
          <TableRow>
            <TableCell>Credentials</TableCell>
            <TableCell>
              {source.hasToken ? s.credentials : 'anonymous (no token)'}
              {s.account ? ` as ${s.account}` : ''}
              {source.tokenRef ? ` — token from ${source.tokenRef}` : ''}
            </TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Reachable</TableCell>
            <TableCell>
              {reachableText(s.reachable)}
            </TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Rate limit</TableCell>
            <TableCell>{rateLimitText(source)}</TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Last error</TableCell>
            <TableCell>{s.lastError ?? '–'}</TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Last check</TableCell>
            <TableCell>{formatTime(s.checkedAt)}</TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Failing since</TableCell>
            <TableCell>{formatTime(s.failingSince)}</TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Last successful sync</TableCell>
            <TableCell>{formatTime(s.lastSuccessfulSyncAt)}</TableCell>
          </TableRow>
          <TableRow>
            <TableCell>Namespace</TableCell>
            <TableCell>{source.namespace}</TableCell>
          </TableRow>
          {(source.include.length > 0 || source.exclude.length > 0) && (
            <TableRow>
              <TableCell>Files</TableCell>
              <TableCell>
                {source.include.length
                  ? `include ${source.include.join(', ')}`
                  : ''}
                {source.include.length && source.exclude.length ? '; ' : ''}
                {source.exclude.length
                  ? `exclude ${source.exclude.join(', ')}`
                  : ''}
              </TableCell>
            </TableRow>
          )}
          {source.allowedOrganizations.length > 0 && (
            <TableRow>
              <TableCell>Organizations</TableCell>
              <TableCell>{source.allowedOrganizations.join(', ')}</TableCell>
            </TableRow>
          )}
        </TableBody>
      </Table>
      <Box mt={2}>
        <Typography variant="h6">Referenced by</Typography>
        <SourceModels source={source} />
      </Box>
    </InfoCard>
  );
}

function AddSourceForm(props: { onAdded(name: string): void }) {
  const api = useApi(modelHubApiRef);
  const [name, setName] = useState('');
  const [endpoint, setEndpoint] = useState('');
  const [tokenRef, setTokenRef] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createSource({
        name: name.trim(),
        kind: 'huggingface',
        endpoint: endpoint.trim(),
        ...(tokenRef.trim() && { tokenRef: tokenRef.trim() }),
      });
      setName('');
      setEndpoint('');
      setTokenRef('');
      props.onAdded(created.name);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <InfoCard title="Add a Hugging Face-compatible source">
      <Box
        display="flex"
        flexWrap="wrap"
        style={{ gap: 16 }}
        alignItems="flex-start"
      >
        <TextField
          id="model-source-name"
          label="Name"
          value={name}
          onChange={e => setName(e.target.value)}
        />
        <TextField
          id="model-source-endpoint"
          label="Endpoint"
          placeholder="https://hub.example.com"
          value={endpoint}
          onChange={e => setEndpoint(e.target.value)}
        />
        <TextField
          id="model-source-token-ref"
          label="Token reference"
          placeholder="env:HF_CORP_TOKEN"
          helperText="env:HF_… / env:MODEL_HUB_… or config:modelHub.sourceSecrets.<key> — never the token"
          value={tokenRef}
          onChange={e => setTokenRef(e.target.value)}
        />
        <Button
          variant="contained"
          color="primary"
          disabled={busy || !name.trim() || !endpoint.trim()}
          onClick={submit}
        >
          Add source
        </Button>
      </Box>
      {error && (
        <Typography color="error" role="alert">
          {error}
        </Typography>
      )}
    </InfoCard>
  );
}

/**
 * The model sources: every upstream with its credentials, reachability,
 * rate limit, last error and last successful sync, and the models that came
 * from it. Admins check a source now, add Hugging Face-compatible sources
 * (the token stays a reference) and remove unused ones.
 *
 * @public
 */
export function SourcesPage() {
  const api = useApi(modelHubApiRef);
  const admin = usePermission({ permission: modelHubAdminPermission });
  const [params, setParams] = useSearchParams();
  const { value, loading, error, retry } = useAsyncRetry(
    () => api.listSources(),
    [api],
  );
  const selectedName = params.get('source') ?? undefined;
  const select = (name: string) => {
    const next = new URLSearchParams(params);
    next.set('source', name);
    setParams(next);
  };

  if (loading && !value) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  const sources = value?.items ?? [];
  const selected = sources.find(s => s.name === selectedName);
  return (
    <Content>
      <Grid container spacing={3}>
        <Grid item xs={12}>
          {sources.length === 0 ? (
            <EmptyState
              missing="data"
              title="No model sources"
              description="Configure modelHub.sources."
            />
          ) : (
            <Paper>
              <Table aria-label="Model sources">
                <TableHead>
                  <TableRow>
                    <TableCell>Source</TableCell>
                    <TableCell>Kind</TableCell>
                    <TableCell>Upstream</TableCell>
                    <TableCell>Status</TableCell>
                    <TableCell>Rate limit</TableCell>
                    <TableCell>Last check</TableCell>
                    <TableCell>Last successful sync</TableCell>
                    <TableCell align="right">Models</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {sources.map(s => (
                    <TableRow
                      key={s.name}
                      hover
                      selected={s.name === selectedName}
                      onClick={() => select(s.name)}
                      style={{ cursor: 'pointer' }}
                    >
                      <TableCell>
                        <Typography variant="body2" component="span">
                          {s.name}
                        </Typography>
                        {s.default && (
                          <Chip
                            size="small"
                            label="default"
                            style={{ marginLeft: 8 }}
                          />
                        )}
                      </TableCell>
                      <TableCell>{s.kind}</TableCell>
                      <TableCell>{s.endpoint ?? s.root ?? '–'}</TableCell>
                      <TableCell>
                        <SourceHealthChip source={s} />
                      </TableCell>
                      <TableCell>{rateLimitText(s)}</TableCell>
                      <TableCell>{formatTime(s.status.checkedAt)}</TableCell>
                      <TableCell>
                        {formatTime(s.status.lastSuccessfulSyncAt)}
                      </TableCell>
                      <TableCell align="right">{s.references.models}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </Paper>
          )}
        </Grid>
        {selected && (
          <Grid item xs={12}>
            <SourceDetails
              key={selected.name}
              source={selected}
              admin={Boolean(admin.allowed)}
              onChanged={retry}
            />
          </Grid>
        )}
        {admin.allowed && (
          <Grid item xs={12}>
            <AddSourceForm
              onAdded={name => {
                retry();
                select(name);
              }}
            />
          </Grid>
        )}
      </Grid>
    </Content>
  );
}
