import { useMemo, useState } from 'react';
import {
  CodeSnippet,
  Content,
  ContentHeader,
  CopyTextButton,
  Header,
  InfoCard,
  Page,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
} from '@backstage/core-components';
import {
  discoveryApiRef,
  fetchApiRef,
  useApi,
} from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import {
  AccessToken,
  AccessTokensClient,
  CreatedAccessToken,
} from './AccessTokensClient';

function formatDate(iso?: string): string {
  return iso ? iso.replace('T', ' ').slice(0, 16) : '–';
}

function status(token: AccessToken, now: number): string {
  if (token.revokedAt) {
    return 'revoked';
  }
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) {
    return 'expired';
  }
  return 'active';
}

/**
 * Personal access tokens for Hugging Face clients (`HF_TOKEN`), with the
 * `HF_ENDPOINT` of the portal's mirror: create (the token is shown once),
 * list and revoke.
 *
 * @public
 */
export function AccessTokensContent() {
  const discoveryApi = useApi(discoveryApiRef);
  const fetchApi = useApi(fetchApiRef);
  const client = useMemo(
    () => new AccessTokensClient({ discoveryApi, fetchApi }),
    [discoveryApi, fetchApi],
  );
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedAccessToken>();
  const [actionError, setActionError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  const state = useAsyncRetry(async () => {
    const [tokens, endpoint] = await Promise.all([
      client.list(),
      client.mirrorUrl(),
    ]);
    return { tokens, endpoint };
  }, [client]);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setActionError(undefined);
    try {
      await fn();
      state.retry();
    } catch (error) {
      setActionError(error as Error);
    } finally {
      setBusy(false);
    }
  };

  const create = () =>
    run(async () => {
      setCreated(await client.create({ name: name.trim() }));
      setName('');
    });

  const now = Date.now();
  const columns: TableColumn<AccessToken>[] = [
    { title: 'Name', field: 'name' },
    {
      title: 'Token',
      render: t => <code>{`${t.prefix}…`}</code>,
    },
    { title: 'Created', render: t => formatDate(t.createdAt) },
    { title: 'Last used', render: t => formatDate(t.lastUsedAt) },
    { title: 'Expires', render: t => formatDate(t.expiresAt) },
    { title: 'Status', render: t => status(t, now) },
    {
      title: '',
      render: t =>
        status(t, now) === 'active' ? (
          <Button
            size="small"
            color="secondary"
            disabled={busy}
            aria-label={`Revoke ${t.name}`}
            onClick={() => run(() => client.revoke(t.id))}
          >
            Revoke
          </Button>
        ) : null,
    },
  ];

  return (
    <>
      <InfoCard title="Hugging Face access tokens">
        <Typography variant="body2" paragraph>
          Hugging Face clients (the Python <code>huggingface_hub</code>,{' '}
          <code>@huggingface/hub</code>, transformers) download approved model
          versions from this portal when they point at its mirror. A token acts
          for you: it downloads what you may download, until you revoke it.
        </Typography>
        {state.value && (
          <Typography variant="body2" paragraph>
            Mirror endpoint: <code>{state.value.endpoint}</code>
          </Typography>
        )}
        {state.value && (
          <CodeSnippet
            language="bash"
            showCopyCodeButton
            text={`export HF_ENDPOINT=${state.value.endpoint}\nexport HF_TOKEN=<your token>`}
          />
        )}
        <Box display="flex" alignItems="center" mt={2}>
          <TextField
            id="model-hub-access-token-name"
            label="Token name"
            value={name}
            onChange={e => setName(e.target.value)}
            inputProps={{ maxLength: 100 }}
            size="small"
            variant="outlined"
          />
          <Box ml={2}>
            <Button
              variant="contained"
              color="primary"
              disabled={busy || !name.trim()}
              onClick={create}
            >
              Create token
            </Button>
          </Box>
        </Box>
        {created && (
          <Box mt={2}>
            <Alert severity="success" onClose={() => setCreated(undefined)}>
              Token <strong>{created.name}</strong> created. Copy it now: it is
              not shown again.
              <Box display="flex" alignItems="center" mt={1}>
                <code data-testid="created-token">{created.token}</code>
                <CopyTextButton text={created.token} />
              </Box>
            </Alert>
          </Box>
        )}
        {actionError && (
          <Box mt={2}>
            <ResponseErrorPanel error={actionError} />
          </Box>
        )}
      </InfoCard>
      <Box mt={3}>
        {state.loading && !state.value && <Progress />}
        {state.error && <ResponseErrorPanel error={state.error} />}
        {state.value && (
          <Table<AccessToken>
            title="Your tokens"
            options={{ search: false, paging: false, padding: 'dense' }}
            columns={columns}
            data={state.value.tokens}
            emptyContent={
              <Box p={2}>
                <Typography variant="body2">No tokens yet.</Typography>
              </Box>
            }
          />
        )}
      </Box>
    </>
  );
}

/**
 * A page with {@link AccessTokensContent}.
 *
 * @public
 */
export function AccessTokensPage() {
  return (
    <Page themeId="tool">
      <Header
        title="Access tokens"
        subtitle="Tokens for Hugging Face clients of the Model Hub mirror"
      />
      <Content>
        <ContentHeader title="Model Hub mirror" />
        <AccessTokensContent />
      </Content>
    </Page>
  );
}
