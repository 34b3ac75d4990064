import IconButton from '@material-ui/core/IconButton';
import LinearProgress from '@material-ui/core/LinearProgress';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import PauseIcon from '@material-ui/icons/Pause';
import PlayArrowIcon from '@material-ui/icons/PlayArrow';
import CloseIcon from '@material-ui/icons/Close';
import { formatBytes, formatDuration, humanize } from '../../lib/format';
import { Entry } from './uploadEntries';

/** The uploads of the page with their progress, speed, ETA and actions. */
export function UploadsTable(props: {
  entries: Entry[];
  onPause(entry: Entry): void;
  onResume(entry: Entry): void;
  onRemove(entry: Entry): void;
}) {
  return (
    <Table size="small" aria-label="Uploads">
      <TableHead>
        <TableRow>
          <TableCell>Path</TableCell>
          <TableCell style={{ width: '30%' }}>Progress</TableCell>
          <TableCell align="right">Speed</TableCell>
          <TableCell align="right">ETA</TableCell>
          <TableCell>Status</TableCell>
          <TableCell />
        </TableRow>
      </TableHead>
      <TableBody>
        {props.entries.map(e => {
          const percent = e.total ? (100 * e.sent) / e.total : 100;
          const eta =
            e.speed && e.status === 'uploading'
              ? (e.total - e.sent) / e.speed
              : undefined;
          return (
            <TableRow key={e.id} data-path={e.path}>
              <TableCell>
                <code>{e.path}</code>
                <Typography variant="caption" display="block">
                  {formatBytes(e.total)}
                  {e.resumedAt
                    ? `, resumed at ${formatBytes(e.resumedAt)}`
                    : ''}
                </Typography>
              </TableCell>
              <TableCell>
                <LinearProgress
                  variant="determinate"
                  value={percent}
                  aria-label={`Progress of ${e.path}`}
                />
                <Typography variant="caption">
                  {Math.floor(percent)}% ({formatBytes(e.sent)})
                </Typography>
              </TableCell>
              <TableCell align="right">
                {e.speed && e.status === 'uploading'
                  ? `${formatBytes(e.speed)}/s`
                  : '–'}
              </TableCell>
              <TableCell align="right">{formatDuration(eta)}</TableCell>
              <TableCell>
                {e.status === 'failed' ? (
                  <Typography color="error" variant="body2">
                    Failed: {e.error}
                  </Typography>
                ) : (
                  humanize(e.status)
                )}
              </TableCell>
              <TableCell align="right">
                {e.status === 'uploading' && !e.isPackage && (
                  <IconButton
                    size="small"
                    aria-label={`Pause ${e.path}`}
                    onClick={() => props.onPause(e)}
                  >
                    <PauseIcon fontSize="small" />
                  </IconButton>
                )}
                {(e.status === 'paused' || e.status === 'failed') && (
                  <IconButton
                    size="small"
                    aria-label={`Resume ${e.path}`}
                    onClick={() => props.onResume(e)}
                  >
                    <PlayArrowIcon fontSize="small" />
                  </IconButton>
                )}
                <IconButton
                  size="small"
                  aria-label={`Remove ${e.path}`}
                  onClick={() => props.onRemove(e)}
                >
                  <CloseIcon fontSize="small" />
                </IconButton>
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
