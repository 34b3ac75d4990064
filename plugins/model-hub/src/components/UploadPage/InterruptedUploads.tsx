import { InfoCard } from '@backstage/core-components';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Typography from '@material-ui/core/Typography';
import { formatBytes } from '../../lib/format';
import { InterruptedUpload } from './tusUploader';

/** Uploads a page reload or a network error interrupted, to resume. */
export function InterruptedUploads(props: {
  pending: InterruptedUpload[];
  /** The chosen model and version. */
  modelRef: string;
  label: string;
  onSelectTarget(target: { model: string; version: string }): void;
  onForget(key: string): void;
}) {
  return (
    <Box mt={3}>
      <InfoCard title="Interrupted uploads">
        <Typography variant="body2" gutterBottom>
          Drop these files again to resume where they stopped.
        </Typography>
        <ul aria-label="Interrupted uploads">
          {props.pending.map(u => (
            <li key={u.key}>
              <code>{u.path}</code> ({formatBytes(u.size)}) into{' '}
              {u.model.replace(/^model:(default\/)?/, '')} {u.version}{' '}
              {(u.model !== props.modelRef || u.version !== props.label) && (
                <Button
                  size="small"
                  onClick={() =>
                    props.onSelectTarget({ model: u.model, version: u.version })
                  }
                >
                  Select target
                </Button>
              )}
              <Button size="small" onClick={() => props.onForget(u.key)}>
                Forget
              </Button>
            </li>
          ))}
        </ul>
      </InfoCard>
    </Box>
  );
}
