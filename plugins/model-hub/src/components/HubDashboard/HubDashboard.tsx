import {
  Content,
  EmptyState,
  InfoCard,
  Link,
  LinkButton,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import List from '@material-ui/core/List';
import ListItem from '@material-ui/core/ListItem';
import ListItemText from '@material-ui/core/ListItemText';
import Typography from '@material-ui/core/Typography';
import useAsync from 'react-use/esm/useAsync';
import {
  HubActivity,
  HubStatsPoint,
  modelHubApiRef,
  VERSION_STATES,
} from '../../api';
import { formatBytes, formatTime, humanize } from '../../lib/format';
import { isNotFound, useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';
import { StorageChart } from './StorageChart';

function Figure(props: { label: string; value: string; hint?: string }) {
  return (
    <InfoCard title={props.label} variant="fullHeight">
      <Typography variant="h3" component="p" aria-label={props.label}>
        {props.value}
      </Typography>
      {props.hint && (
        <Typography variant="body2" color="textSecondary">
          {props.hint}
        </Typography>
      )}
    </InfoCard>
  );
}

/** Loads an optional endpoint: undefined when the backend lacks it (404). */
async function optional<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (error) {
    if (isNotFound(error)) {
      return undefined;
    }
    throw error;
  }
}

/**
 * The hub dashboard: total models, versions by state, storage used, active
 * and failed jobs, recent activity and the storage and downloads history.
 *
 * @public
 */
export function HubDashboard() {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const { value, loading, error } = useAsync(async () => {
    const [stats, history, activity] = await Promise.all([
      api.getStats(),
      optional<HubStatsPoint[]>(() => api.getStatsHistory({ days: 30 })),
      optional<HubActivity[]>(() => api.listActivity({ limit: 10 })),
    ]);
    return { stats, history, activity };
  }, [api]);

  if (loading) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  const { stats, history, activity } = value!;

  if (stats.models === 0) {
    return (
      <Content>
        <EmptyState
          missing="data"
          title="No models yet"
          description="Import a model from Hugging Face or upload one to start."
          action={
            <>
              <LinkButton
                to={links.hub('import')}
                color="primary"
                variant="contained"
              >
                Import from Hugging Face
              </LinkButton>{' '}
              <LinkButton to={links.hub('upload')} variant="outlined">
                Upload
              </LinkButton>
            </>
          }
        />
      </Content>
    );
  }

  return (
    <Content>
      <Grid container spacing={3} alignItems="stretch">
        <Grid item xs={12} sm={6} md={3}>
          <Figure
            label="Models"
            value={String(stats.models)}
            hint={`${stats.versions.total} versions`}
          />
        </Grid>
        <Grid item xs={12} sm={6} md={3}>
          <InfoCard title="Versions by state" variant="fullHeight">
            <Box display="flex" flexWrap="wrap" style={{ gap: 8 }}>
              {VERSION_STATES.filter(s => stats.versions.byState[s]).map(s => (
                <Box
                  key={s}
                  display="flex"
                  alignItems="center"
                  style={{ gap: 4 }}
                >
                  <StatePill state={s} />
                  <Typography
                    variant="body1"
                    aria-label={`${humanize(s)} versions`}
                  >
                    {stats.versions.byState[s]}
                  </Typography>
                </Box>
              ))}
            </Box>
          </InfoCard>
        </Grid>
        <Grid item xs={12} sm={6} md={3}>
          <Figure
            label="Storage used"
            value={formatBytes(stats.storage.bytes)}
            hint={`${stats.storage.blobs} blobs, deduplicated by SHA-256`}
          />
        </Grid>
        <Grid item xs={12} sm={6} md={3}>
          <InfoCard
            title="Jobs"
            variant="fullHeight"
            deepLink={{ link: links.hub('jobs'), title: 'Jobs monitor' }}
          >
            <Typography variant="h3" component="p" aria-label="Active jobs">
              {stats.jobs.active}
            </Typography>
            <Typography variant="body2" color="textSecondary">
              active
            </Typography>
            <Typography
              variant="body1"
              color={stats.jobs.failed ? 'error' : 'textSecondary'}
              aria-label="Failed jobs"
            >
              {stats.jobs.failed} failed
            </Typography>
          </InfoCard>
        </Grid>
        <Grid item xs={12} md={8}>
          <InfoCard title="Storage and downloads, last 30 days">
            {history ? (
              <StorageChart points={history} />
            ) : (
              <Typography variant="body2" color="textSecondary">
                This backend does not record history.
              </Typography>
            )}
          </InfoCard>
        </Grid>
        <Grid item xs={12} md={4}>
          <InfoCard title="Recent activity">
            {!activity || activity.length === 0 ? (
              <Typography variant="body2" color="textSecondary">
                No recent activity.
              </Typography>
            ) : (
              <List dense>
                {activity.map(a => (
                  <ListItem key={a.id} disableGutters>
                    <ListItemText
                      primary={
                        <>
                          {humanize(a.eventId)}
                          {a.modelRef && (
                            <>
                              {' '}
                              <Link to={links.catalog(a.modelRef)}>
                                {a.modelRef.replace(/^model:(default\/)?/, '')}
                              </Link>
                            </>
                          )}
                          {a.versionLabel && ` ${a.versionLabel}`}
                        </>
                      }
                      secondary={`${a.actor.replace(
                        /^user:(default\/)?/,
                        '',
                      )}, ${formatTime(a.createdAt)}${
                        a.status === 'failed' ? ' (failed)' : ''
                      }`}
                    />
                  </ListItem>
                ))}
              </List>
            )}
          </InfoCard>
        </Grid>
      </Grid>
    </Content>
  );
}
