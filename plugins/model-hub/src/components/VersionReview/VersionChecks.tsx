import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import List from '@material-ui/core/List';
import ListItem from '@material-ui/core/ListItem';
import ListItemIcon from '@material-ui/core/ListItemIcon';
import ListItemText from '@material-ui/core/ListItemText';
import Typography from '@material-ui/core/Typography';
import { modelHubApiRef, ModelRef } from '../../api';
import { StatePill } from '../StatePill';
import { useOptionalAsync } from './useOptionalAsync';

/**
 * The inspection checks of a version (file formats, pickle scan, sizes,
 * digests), with their status.
 *
 * @public
 */
export function VersionChecks(props: { model: ModelRef; label: string }) {
  const api = useApi(modelHubApiRef);
  const { value, loading, error, unavailable } = useOptionalAsync(
    () => api.listChecks(props.model, props.label),
    [api, props.model, props.label],
  );
  if (loading) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  if (unavailable || !value || value.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No inspection checks for this version.
      </Typography>
    );
  }
  return (
    <List dense aria-label="Checks">
      {value.map(check => (
        <ListItem key={check.name} disableGutters>
          <ListItemIcon style={{ minWidth: 96 }}>
            <StatePill state={check.waiver ? 'waived' : check.status} />
          </ListItemIcon>
          <ListItemText
            primary={`${check.name}${check.required ? ' (required)' : ''}`}
            secondary={
              check.waiver
                ? `${check.status}, waived by ${check.waiver.waivedBy.replace(
                    /^user:(default\/)?/,
                    '',
                  )}: ${check.waiver.reason}`
                : check.summary
            }
          />
        </ListItem>
      ))}
    </List>
  );
}
