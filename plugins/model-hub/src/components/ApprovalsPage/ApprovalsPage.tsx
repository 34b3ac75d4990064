import {
  Content,
  EmptyState,
  Link,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { MODEL_TYPES } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Grid from '@material-ui/core/Grid';
import MenuItem from '@material-ui/core/MenuItem';
import Paper from '@material-ui/core/Paper';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TablePagination from '@material-ui/core/TablePagination';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { HubApprovalItem, modelHubApiRef } from '../../api';
import { formatTime, humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { ReviewPanel } from './ReviewPanel';

const keyOf = (i: HubApprovalItem) => `${i.modelRef}@${i.label}`;

/** `tiny-llm` → `model:default/tiny-llm`; a full ref stays as it is. */
function toModelRef(input: string): string | undefined {
  const value = input.trim();
  if (!value) {
    return undefined;
  }
  return value.includes(':') ? value : `model:default/${value}`;
}

/**
 * The approvals queue: versions in review, oldest first, with filters and
 * a review panel.
 *
 * @public
 */
export function ApprovalsPage() {
  const api = useApi(modelHubApiRef);
  const links = useHubLinks();
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(25);
  const [model, setModel] = useState('');
  const [owner, setOwner] = useState('');
  const [type, setType] = useState('');
  const [selected, setSelected] = useState<string>();

  const modelFilter = toModelRef(model);
  const queue = useAsyncRetry(
    () =>
      api.listApprovals({
        model: modelFilter,
        offset: page * pageSize,
        limit: pageSize,
      }),
    [api, modelFilter, page, pageSize],
  );

  const items = (queue.value?.items ?? []).filter(
    i =>
      (!owner || i.owner.includes(owner.trim().toLocaleLowerCase('en-US'))) &&
      (!type || i.type === type),
  );
  const current =
    items.find(i => keyOf(i) === selected) ?? (selected ? undefined : items[0]);

  return (
    <Content>
      <Box display="flex" flexWrap="wrap" style={{ gap: 12 }} mb={2}>
        <TextField
          id="model-hub-approvals-model"
          label="Model"
          placeholder="model:default/name"
          size="small"
          variant="outlined"
          value={model}
          onChange={e => {
            setModel(e.target.value);
            setPage(0);
          }}
        />
        <TextField
          id="model-hub-approvals-owner"
          label="Owner"
          size="small"
          variant="outlined"
          value={owner}
          onChange={e => setOwner(e.target.value)}
        />
        <TextField
          select
          label="Type"
          size="small"
          variant="outlined"
          style={{ minWidth: 140 }}
          value={type}
          onChange={e => setType(e.target.value)}
          SelectProps={{ inputProps: { 'aria-label': 'Type' } }}
        >
          <MenuItem value="">All</MenuItem>
          {MODEL_TYPES.map(t => (
            <MenuItem key={t} value={t}>
              {humanize(t)}
            </MenuItem>
          ))}
        </TextField>
      </Box>
      {queue.loading && !queue.value && <Progress />}
      {queue.error && <ResponseErrorPanel error={queue.error} />}
      {queue.value && items.length === 0 && (
        <EmptyState
          missing="content"
          title="Nothing to review"
          description="Versions submitted for review show up here."
        />
      )}
      {items.length > 0 && (
        <Grid container spacing={3}>
          <Grid item xs={12}>
            <Paper>
              <Table size="small" aria-label="Review queue">
                <TableHead>
                  <TableRow>
                    <TableCell>Model</TableCell>
                    <TableCell>Version</TableCell>
                    <TableCell>Type</TableCell>
                    <TableCell>Owner</TableCell>
                    <TableCell>Submitted by</TableCell>
                    <TableCell>Submitted</TableCell>
                    <TableCell align="right">Approvals</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {items.map(i => (
                    <TableRow
                      key={keyOf(i)}
                      hover
                      selected={current && keyOf(current) === keyOf(i)}
                      onClick={() => setSelected(keyOf(i))}
                      style={{ cursor: 'pointer' }}
                    >
                      <TableCell>
                        <Link to={links.catalog(i.modelRef)}>
                          {i.modelRef.replace(/^model:(default\/)?/, '')}
                        </Link>
                      </TableCell>
                      <TableCell>{i.label}</TableCell>
                      <TableCell>{i.type}</TableCell>
                      <TableCell>
                        {i.owner.replace(/^group:(default\/)?/, '')}
                      </TableCell>
                      <TableCell>
                        {(i.submittedBy ?? '').replace(
                          /^user:(default\/)?/,
                          '',
                        )}
                      </TableCell>
                      <TableCell>{formatTime(i.submittedAt)}</TableCell>
                      <TableCell align="right">{i.approvals.length}</TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
              <TablePagination
                component="div"
                count={queue.value?.totalCount ?? 0}
                page={page}
                rowsPerPage={pageSize}
                rowsPerPageOptions={[10, 25, 50]}
                onPageChange={(_e, p) => setPage(p)}
                onRowsPerPageChange={e => {
                  setPageSize(Number(e.target.value));
                  setPage(0);
                }}
              />
            </Paper>
          </Grid>
          {current && (
            <Grid item xs={12}>
              <ReviewPanel
                key={keyOf(current)}
                item={current}
                onDecided={() => {
                  setSelected(undefined);
                  queue.retry();
                }}
              />
            </Grid>
          )}
        </Grid>
      )}
    </Content>
  );
}
