import Chip from '@material-ui/core/Chip';
import { makeStyles, Theme } from '@material-ui/core/styles';
import { humanize } from '../../lib/format';

type Tone = 'good' | 'warn' | 'bad' | 'info' | 'neutral';

const TONES: Record<string, Tone> = {
  approved: 'good',
  succeeded: 'good',
  passed: 'good',
  waived: 'warn',
  error: 'bad',
  skipped: 'neutral',
  in_review: 'info',
  running: 'info',
  queued: 'neutral',
  draft: 'neutral',
  pending: 'neutral',
  changes_requested: 'warn',
  warning: 'warn',
  deprecated: 'warn',
  cancelled: 'neutral',
  archived: 'neutral',
  rejected: 'bad',
  failed: 'bad',
};

const useStyles = makeStyles((theme: Theme) => ({
  good: {
    backgroundColor: theme.palette.success?.main ?? '#2e7d32',
    color: theme.palette.success?.contrastText ?? '#fff',
  },
  warn: {
    backgroundColor: theme.palette.warning?.main ?? '#ed6c02',
    color: theme.palette.warning?.contrastText ?? '#000',
  },
  bad: {
    backgroundColor: theme.palette.error.main,
    color: theme.palette.error.contrastText,
  },
  info: {
    backgroundColor: theme.palette.info?.main ?? '#0288d1',
    color: theme.palette.info?.contrastText ?? '#fff',
  },
  neutral: {},
}));

/**
 * A coloured pill for a version, job or check state.
 *
 * @public
 */
export function StatePill(props: { state: string; size?: 'small' | 'medium' }) {
  const classes = useStyles();
  const tone = TONES[props.state] ?? 'neutral';
  return (
    <Chip
      size={props.size ?? 'small'}
      label={humanize(props.state)}
      className={classes[tone]}
      data-state={props.state}
    />
  );
}
