import {
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { HubApprovalItem, modelHubApiRef } from '../../api';
import { formatBytes, formatTime } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';
import {
  ApprovalTimeline,
  VersionChecks,
  VersionDiffView,
} from '../VersionReview';
import { CommentThread, VersionActions } from '../VersionActions';
import { ImportedEvidence } from '../Transfer';

/**
 * The review of one version in the queue: checks (admins waive failed
 * ones), the diff to the previous approved version, the timeline, comment
 * threads, and approve / request changes / reject, each enabled for those
 * allowed to decide and explained to others.
 */
export function ReviewPanel(props: {
  item: HubApprovalItem;
  onDecided(): void;
}) {
  const { item } = props;
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const data = useAsyncRetry(
    () => api.getVersionReview(item.modelRef, item.label),
    [api, item.modelRef, item.label, item.revision],
  );

  const version = data.value?.version;
  const name = item.modelRef.replace(/^model:(default\/)?/, '');
  return (
    <InfoCard
      title={`Review ${name} ${item.label}`}
      subheader={
        <Box display="flex" alignItems="center" style={{ gap: 8 }}>
          {version && <StatePill state={version.state} />}
          <span>
            submitted by{' '}
            {(item.submittedBy ?? item.createdBy).replace(
              /^user:(default\/)?/,
              '',
            )}{' '}
            {formatTime(item.submittedAt)}, round {item.round}
          </span>
          <Link to={links.catalog(item.modelRef)}>Model page</Link>
        </Box>
      }
    >
      {data.loading && !data.value && <Progress />}
      {data.error && <ResponseErrorPanel error={data.error} />}
      {data.value && (
        <Grid container spacing={3}>
          <Grid item xs={12}>
            <ImportedEvidence model={item.modelRef} label={item.label} />
            <Typography variant="body2">
              {version?.fileCount} files, {formatBytes(version?.totalSize)};
              approvals {data.value.approvals.count} of{' '}
              {data.value.approvals.required}
              {data.value.approvals.reviewers.length > 0 &&
                ` (${data.value.approvals.reviewers
                  .map(r => r.replace(/^user:(default\/)?/, ''))
                  .join(', ')})`}
            </Typography>
            {data.value.submission?.comment && (
              <Typography variant="body2" color="textSecondary">
                “{data.value.submission.comment}”
              </Typography>
            )}
            {data.value.checks.blocking.length > 0 && (
              <Typography variant="body2" color="error">
                Blocking checks:{' '}
                {data.value.checks.blocking
                  .map(b =>
                    typeof b === 'string'
                      ? b
                      : `${b.name}${b.status ? ` (${b.status})` : ''}`,
                  )
                  .join(', ')}
              </Typography>
            )}
          </Grid>
          <Grid item xs={12} md={6}>
            <Typography variant="h6" gutterBottom>
              Checks
            </Typography>
            <VersionChecks
              model={item.modelRef}
              label={item.label}
              waivable={version?.state === 'in_review'}
              onWaived={data.retry}
            />
          </Grid>
          <Grid item xs={12} md={6}>
            <Typography variant="h6" gutterBottom>
              Changes
            </Typography>
            <VersionDiffView model={item.modelRef} label={item.label} />
          </Grid>
          <Grid item xs={12} md={6}>
            <Typography variant="h6" gutterBottom>
              Timeline
            </Typography>
            <ApprovalTimeline
              model={item.modelRef}
              label={item.label}
              reloadKey={version?.revision}
            />
          </Grid>
          <Grid item xs={12} md={6}>
            <Typography variant="h6" gutterBottom>
              Decision
            </Typography>
            {version && (
              <VersionActions
                model={item.modelRef}
                version={version}
                owner={false}
                onChanged={() => {
                  data.retry();
                  props.onDecided();
                }}
              />
            )}
            <Box mt={3}>
              <Typography variant="h6" gutterBottom>
                Comments
              </Typography>
              <CommentThread model={item.modelRef} label={item.label} />
            </Box>
          </Grid>
        </Grid>
      )}
    </InfoCard>
  );
}
