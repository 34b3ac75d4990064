import {
  InfoCard,
  Link,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubVersionApprovePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { HubApprovalItem, modelHubApiRef, ReviewDecision } from '../../api';
import { formatBytes, formatTime } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';
import {
  ApprovalTimeline,
  VersionChecks,
  VersionDiffView,
} from '../VersionReview';

const DECISIONS: Array<{
  decision: ReviewDecision;
  label: string;
  needsComment: boolean;
  color: 'primary' | 'default' | 'secondary';
}> = [
  {
    decision: 'approve',
    label: 'Approve',
    needsComment: false,
    color: 'primary',
  },
  {
    decision: 'request_changes',
    label: 'Request changes',
    needsComment: true,
    color: 'default',
  },
  {
    decision: 'reject',
    label: 'Reject',
    needsComment: true,
    color: 'secondary',
  },
];

/**
 * The review of one version in the queue: checks, the diff to the previous
 * approved version, the timeline, and approve / request changes / reject
 * with a comment, each shown only to those allowed to decide.
 */
export function ReviewPanel(props: {
  item: HubApprovalItem;
  onDecided(): void;
}) {
  const { item } = props;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const links = useHubLinks();
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const approve = usePermission({
    permission: modelHubVersionApprovePermission,
    resourceRef: item.modelRef,
  });
  const review = usePermission({
    permission: modelHubVersionReviewPermission,
    resourceRef: item.modelRef,
  });
  const data = useAsyncRetry(
    () => api.getVersionReview(item.modelRef, item.label),
    [api, item.modelRef, item.label, item.revision],
  );

  const allowed = (d: ReviewDecision) =>
    d === 'request_changes' ? review.allowed : approve.allowed;

  const decide = async (decision: ReviewDecision, label: string) => {
    setBusy(true);
    try {
      const result = await api.reviewVersion(item.modelRef, item.label, {
        decision,
        comment: comment.trim() || undefined,
        revision: data.value?.version.revision ?? item.revision,
      });
      alertApi.post({
        message:
          result.to === 'in_review'
            ? `${label}: ${result.approvals.count} of ${result.approvals.required} approvals`
            : `${item.modelRef.replace(/^model:(default\/)?/, '')} ${
                item.label
              } is now ${result.to.replace('_', ' ')}`,
        severity: 'success',
        display: 'transient',
      });
      setComment('');
      props.onDecided();
    } catch (e) {
      alertApi.post({ message: (e as Error).message, severity: 'error' });
      data.retry();
    } finally {
      setBusy(false);
    }
  };

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
                Blocking checks: {data.value.checks.blocking.join(', ')}
              </Typography>
            )}
          </Grid>
          <Grid item xs={12} md={6}>
            <Typography variant="h6" gutterBottom>
              Checks
            </Typography>
            <VersionChecks model={item.modelRef} label={item.label} />
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
            {DECISIONS.some(d => allowed(d.decision)) ? (
              <>
                <TextField
                  id="model-hub-review-comment"
                  label="Comment"
                  multiline
                  minRows={3}
                  fullWidth
                  variant="outlined"
                  value={comment}
                  onChange={e => setComment(e.target.value)}
                  helperText="Required to request changes or reject"
                />
                <Box display="flex" style={{ gap: 8 }} mt={1}>
                  {DECISIONS.filter(d => allowed(d.decision)).map(d => (
                    <Button
                      key={d.decision}
                      variant={
                        d.decision === 'approve' ? 'contained' : 'outlined'
                      }
                      color={d.color}
                      disabled={
                        busy ||
                        version?.state !== 'in_review' ||
                        (d.needsComment && !comment.trim())
                      }
                      onClick={() => decide(d.decision, d.label)}
                    >
                      {d.label}
                    </Button>
                  ))}
                </Box>
              </>
            ) : (
              <Typography variant="body2" color="textSecondary">
                {approve.loading || review.loading
                  ? 'Checking your permissions…'
                  : 'You may not review this version.'}
              </Typography>
            )}
          </Grid>
        </Grid>
      )}
    </InfoCard>
  );
}
