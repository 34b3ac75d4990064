import Chip from '@material-ui/core/Chip';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import { HubVersion } from '../../api';
import { formatBytes, formatTime } from '../../lib/format';
import { StatePill } from '../StatePill';

/** The versions of a model; a click on a row selects it. */
export function VersionsTable(props: {
  versions: HubVersion[];
  /** The label of the selected version. */
  currentLabel?: string;
  /** The label of the active version. */
  activeLabel?: string;
  onSelect(label: string): void;
}) {
  const { versions, activeLabel } = props;
  return (
    <Table size="small" aria-label="Versions">
      <TableHead>
        <TableRow>
          <TableCell>Version</TableCell>
          <TableCell>State</TableCell>
          <TableCell>Source</TableCell>
          <TableCell align="right">Files</TableCell>
          <TableCell align="right">Size</TableCell>
          <TableCell>Created by</TableCell>
          <TableCell>Created</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {versions.map(v => (
          <TableRow
            key={v.id}
            hover
            selected={v.label === props.currentLabel}
            onClick={() => props.onSelect(v.label)}
            style={{ cursor: 'pointer' }}
            data-version={v.label}
          >
            <TableCell>
              <strong>{v.label}</strong>
              {v.label === activeLabel && (
                <Chip
                  size="small"
                  color="primary"
                  label="Active"
                  style={{ marginLeft: 8 }}
                />
              )}
            </TableCell>
            <TableCell>
              <StatePill state={v.state} />
            </TableCell>
            <TableCell>
              {v.sourceType === 'huggingface' ? 'Hugging Face' : 'Upload'}
            </TableCell>
            <TableCell align="right">{v.fileCount}</TableCell>
            <TableCell align="right">{formatBytes(v.totalSize)}</TableCell>
            <TableCell>
              {v.createdBy.replace(/^user:(default\/)?/, '')}
            </TableCell>
            <TableCell>{formatTime(v.createdAt)}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
