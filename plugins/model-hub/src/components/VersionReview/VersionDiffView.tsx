import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import { modelHubApiRef, ModelRef } from '../../api';
import { formatBytes } from '../../lib/format';
import { useOptionalAsync } from './useOptionalAsync';

/**
 * The file differences of a version to the previous approved version of
 * the same model: added, removed and changed files (by SHA-256).
 *
 * @public
 */
export function VersionDiffView(props: {
  model: ModelRef;
  label: string;
  /** Compare with this version (e.g. the active one) instead. */
  against?: string;
}) {
  const api = useApi(modelHubApiRef);
  const { value, loading, error, unavailable } = useOptionalAsync(
    () =>
      props.against
        ? api.getVersionDiff(props.model, props.label, {
            against: props.against,
          })
        : api.getVersionDiff(props.model, props.label),
    [api, props.model, props.label, props.against],
  );
  if (loading) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  if (unavailable || !value) {
    return (
      <Typography variant="body2" color="textSecondary">
        No comparison available.
      </Typography>
    );
  }
  const { files } = value;
  const rows = [
    ...files.added.map(f => ({
      change: 'added',
      path: f.path,
      before: undefined as number | undefined,
      after: f.size as number | undefined,
    })),
    ...files.removed.map(f => ({
      change: 'removed',
      path: f.path,
      before: f.size as number | undefined,
      after: undefined as number | undefined,
    })),
    ...files.changed.map(c => ({
      change: 'changed',
      path: c.path,
      before: c.from.size as number | undefined,
      after: c.to.size as number | undefined,
    })),
  ];
  const facts = [
    value.license?.changed &&
      `license ${value.license.from ?? 'none'} → ${value.license.to ?? 'none'}`,
    value.parameters?.changed &&
      `parameters ${value.parameters.from ?? '?'} → ${
        value.parameters.to ?? '?'
      }`,
  ].filter(Boolean);
  return (
    <div data-testid="version-diff">
      <Typography variant="body2" gutterBottom>
        {value.base && props.against
          ? `Compared with version ${value.base.label}`
          : null}
        {value.base && !props.against
          ? `Compared with approved version ${value.base.label}`
          : null}
        {!value.base
          ? 'No approved version before this one: every file is new'
          : null}
        {files.unchanged ? `, ${files.unchanged} files unchanged` : ''}
        {facts.length ? `; ${facts.join(', ')}` : ''}
      </Typography>
      {rows.length > 0 ? (
        <Table size="small" aria-label="Differences">
          <TableHead>
            <TableRow>
              <TableCell>Change</TableCell>
              <TableCell>Path</TableCell>
              <TableCell align="right">Before</TableCell>
              <TableCell align="right">After</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map(r => (
              <TableRow key={`${r.change}:${r.path}`}>
                <TableCell>{r.change}</TableCell>
                <TableCell>
                  <code>{r.path}</code>
                </TableCell>
                <TableCell align="right">
                  {r.before === undefined ? '' : formatBytes(r.before)}
                </TableCell>
                <TableCell align="right">
                  {r.after === undefined ? '' : formatBytes(r.after)}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      ) : (
        <Typography variant="body2" color="textSecondary">
          No file differences.
        </Typography>
      )}
    </div>
  );
}
