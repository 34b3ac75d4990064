import { InfoCard } from '@backstage/core-components';
import Box from '@material-ui/core/Box';
import LinearProgress from '@material-ui/core/LinearProgress';
import Typography from '@material-ui/core/Typography';
import { HubJob } from '../../api';
import { humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { jobProgress } from '../JobsPage/jobProgress';
import { StatePill } from '../StatePill';

/**
 * The model's queued and running jobs (syncs, downloads) with their
 * progress; nothing when none runs.
 */
export function ModelJobsCard(props: { jobs: HubJob[]; isLive: boolean }) {
  const links = useHubLinks();
  if (props.jobs.length === 0) {
    return null;
  }
  return (
    <InfoCard
      title="Jobs"
      subheader={props.isLive ? 'Live' : 'Refreshing every 3 s while jobs run'}
      deepLink={{ link: links.hub('jobs'), title: 'All jobs' }}
    >
      <Box display="flex" flexDirection="column" style={{ gap: 12 }}>
        {props.jobs.map(job => {
          const { fraction, text } = jobProgress(job);
          return (
            <Box key={job.id} data-job={job.id}>
              <Box display="flex" alignItems="center" style={{ gap: 8 }}>
                <Typography variant="body2">
                  {humanize(job.type)} {job.id.slice(0, 8)}
                </Typography>
                <StatePill state={job.state} />
              </Box>
              {job.state === 'running' || fraction !== undefined ? (
                <LinearProgress
                  variant={
                    fraction === undefined ? 'indeterminate' : 'determinate'
                  }
                  value={fraction === undefined ? undefined : fraction * 100}
                  aria-label={`Progress of job ${job.id}`}
                />
              ) : null}
              <Typography variant="caption">
                {fraction !== undefined && `${Math.floor(fraction * 100)}% `}
                {text}
              </Typography>
            </Box>
          );
        })}
      </Box>
    </InfoCard>
  );
}
