import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Typography from '@material-ui/core/Typography';
import { modelHubApiRef, ModelRef } from '../../api';
import { formatTime, humanize } from '../../lib/format';
import { StatePill } from '../StatePill';
import { useOptionalAsync } from './useOptionalAsync';

/**
 * The approval timeline of a version: submissions, reviews and state
 * changes with their comments, oldest first.
 *
 * @public
 */
export function ApprovalTimeline(props: {
  model: ModelRef;
  label: string;
  /** Changes whenever the timeline should reload (e.g. the version's revision). */
  reloadKey?: unknown;
}) {
  const api = useApi(modelHubApiRef);
  const { value, loading, error, unavailable } = useOptionalAsync(
    () => api.listReviews(props.model, props.label),
    [api, props.model, props.label, props.reloadKey],
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
        No reviews yet.
      </Typography>
    );
  }
  return (
    <Box component="ol" aria-label="Approval timeline" pl={2} m={0}>
      {value.map(step => (
        <Box component="li" key={step.id} mb={1.5}>
          <Box display="flex" alignItems="center" style={{ gap: 8 }}>
            <Typography variant="body2">
              <strong>{step.actor.replace(/^user:(default\/)?/, '')}</strong>{' '}
              {humanize(step.action).toLocaleLowerCase('en-US')}
            </Typography>
            {step.toState && <StatePill state={step.toState} />}
            <Typography variant="caption" color="textSecondary">
              {formatTime(step.createdAt)}
            </Typography>
          </Box>
          {step.comment && (
            <Typography variant="body2" color="textSecondary">
              “{step.comment}”
            </Typography>
          )}
        </Box>
      ))}
    </Box>
  );
}
