import { InfoCard, Link } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import useAsync from 'react-use/esm/useAsync';
import { ModelRef, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { SourceHealthChip } from './SourcesPage';

/**
 * The source a model came from, linked to its entry on the Sources page,
 * with its health; a failing source (credentials invalid, unreachable)
 * shows its problem. Renders nothing for models that came from no source.
 *
 * @public
 */
export function ModelSourceCard(props: {
  model: ModelRef;
  /** Wraps the card in a full-width `Grid` item (inside a `Grid` container). */
  gridItem?: boolean;
}) {
  const api = useApi(modelHubApiRef);
  const { hub } = useHubLinks();
  const { value: source, error } = useAsync(
    () => api.getSourceOfModel(props.model),
    [
      api,
      typeof props.model === 'string'
        ? props.model
        : `${props.model.namespace}/${props.model.name}`,
    ],
  );
  if (error || !source) {
    return null;
  }
  const card = (
    <InfoCard title="Source">
      <Box display="flex" alignItems="center" style={{ gap: 8 }}>
        <Link to={hub('sources', { source: source.name })}>{source.name}</Link>
        {source.endpoint && (
          <Typography variant="body2" color="textSecondary">
            {source.endpoint}
          </Typography>
        )}
        {source.status && <SourceHealthChip source={source} />}
      </Box>
      {source.problem && (
        <Typography color="error" role="alert">
          This model cannot sync from {source.name}: {source.problem}
        </Typography>
      )}
      {source.status?.lastSuccessfulSyncAt && (
        <Typography variant="body2">
          Last successful sync of the source:{' '}
          {formatTime(source.status.lastSuccessfulSyncAt)}
        </Typography>
      )}
    </InfoCard>
  );
  return props.gridItem ? (
    <Grid item xs={12}>
      {card}
    </Grid>
  ) : (
    card
  );
}
