import { useTheme } from '@material-ui/core/styles';
import Typography from '@material-ui/core/Typography';
import { HubStatsPoint } from '../../api';
import { formatBytes } from '../../lib/format';

const W = 600;
const H = 180;
const PAD = 36;

/**
 * Storage used (line, left axis) and downloads per day (bars, right axis),
 * drawn as a plain SVG so that the plugin needs no chart library.
 */
export function StorageChart(props: { points: HubStatsPoint[] }) {
  const theme = useTheme();
  const { points } = props;
  if (points.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No history yet.
      </Typography>
    );
  }
  const maxStorage = Math.max(1, ...points.map(p => p.storageBytes));
  const maxDownloads = Math.max(1, ...points.map(p => p.downloads));
  const step = (W - 2 * PAD) / Math.max(1, points.length);
  const x = (i: number) => PAD + i * step + step / 2;
  const yStorage = (v: number) => H - PAD - (v / maxStorage) * (H - 2 * PAD);
  const barHeight = (v: number) => (v / maxDownloads) * (H - 2 * PAD);
  const line = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i)},${yStorage(p.storageBytes)}`)
    .join(' ');
  const last = points[points.length - 1];
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      width="100%"
      role="img"
      aria-label={`Storage ${formatBytes(last.storageBytes)} and ${
        last.downloads
      } downloads on ${last.date}`}
    >
      {points.map((p, i) => (
        <rect
          key={p.date}
          x={x(i) - step * 0.3}
          width={step * 0.6}
          y={H - PAD - barHeight(p.downloads)}
          height={barHeight(p.downloads)}
          fill={theme.palette.secondary.light}
          opacity={0.6}
        >
          <title>{`${p.date}: ${p.downloads} downloads, ${formatBytes(
            p.storageBytes,
          )} stored`}</title>
        </rect>
      ))}
      <path
        d={line}
        fill="none"
        stroke={theme.palette.primary.main}
        strokeWidth={2}
      />
      <line
        x1={PAD}
        x2={W - PAD}
        y1={H - PAD}
        y2={H - PAD}
        stroke={theme.palette.divider}
      />
      <text x={4} y={PAD - 8} fontSize={11} fill={theme.palette.text.secondary}>
        {formatBytes(maxStorage)}
      </text>
      <text
        x={W - 4}
        y={PAD - 8}
        fontSize={11}
        textAnchor="end"
        fill={theme.palette.text.secondary}
      >
        {maxDownloads} downloads
      </text>
      <text
        x={PAD}
        y={H - 10}
        fontSize={11}
        fill={theme.palette.text.secondary}
      >
        {points[0].date}
      </text>
      <text
        x={W - PAD}
        y={H - 10}
        fontSize={11}
        textAnchor="end"
        fill={theme.palette.text.secondary}
      >
        {last.date}
      </text>
    </svg>
  );
}
