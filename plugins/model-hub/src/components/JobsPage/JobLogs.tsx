import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Typography from '@material-ui/core/Typography';
import { useEffect, useRef, useState } from 'react';
import { HubJobLog, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';

/**
 * The log of a job, loading new lines (after the last one seen) whenever
 * `tick` changes: on every signal of the job, or on a timer.
 */
export function JobLogs(props: { jobId: string; tick: unknown }) {
  const api = useApi(modelHubApiRef);
  const [lines, setLines] = useState<HubJobLog[]>();
  const [error, setError] = useState<Error>();
  const lastId = useRef<number | undefined>(undefined);

  useEffect(() => {
    lastId.current = undefined;
    setLines(undefined);
    setError(undefined);
  }, [props.jobId]);

  useEffect(() => {
    let cancelled = false;
    api
      .getJobLogs(props.jobId, { after: lastId.current, limit: 500 })
      .then(items => {
        if (cancelled) {
          return;
        }
        if (items.length > 0) {
          lastId.current = items[items.length - 1].id;
        }
        setLines(prev => [...(prev ?? []), ...items]);
      })
      .catch(e => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [api, props.jobId, props.tick]);

  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  if (!lines) {
    return <Progress />;
  }
  if (lines.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No log lines yet.
      </Typography>
    );
  }
  return (
    <Box
      component="pre"
      aria-label="Job log"
      style={{
        maxHeight: 360,
        overflow: 'auto',
        fontSize: 12,
        margin: 0,
        whiteSpace: 'pre-wrap',
      }}
    >
      {lines
        .map(
          l =>
            `${formatTime(l.createdAt)} ${l.level.toLocaleUpperCase('en-US')} ${
              l.message
            }`,
        )
        .join('\n')}
    </Box>
  );
}
