import {
  Content,
  EmptyState,
  Link,
  Progress,
  ResponseErrorPanel,
  WarningPanel,
} from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubAdminPermission,
  modelHubAuditReadPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import MenuItem from '@material-ui/core/MenuItem';
import Paper from '@material-ui/core/Paper';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TablePagination from '@material-ui/core/TablePagination';
import TableRow from '@material-ui/core/TableRow';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useEffect, useMemo, useState } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { HubAuditEntry, ListAuditRequest, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { messageOf } from '../VersionActions/conflict';

/** Debounces a value: the last one after `ms` without changes. */
function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** `alice` → `user:default/alice`; full refs stay as they are. */
function actorRef(input: string): string {
  return input.includes(':') ? input : `user:default/${input}`;
}

/** `tiny-llm` → `model:default/tiny-llm`; full refs stay as they are. */
function modelRef(input: string): string {
  if (input.includes(':')) {
    return input;
  }
  return input.includes('/') ? `model:${input}` : `model:default/${input}`;
}

/** The meta of an entry in one line (comment, reason, from → to, …). */
function details(entry: HubAuditEntry): string {
  const meta = entry.meta ?? {};
  const parts: string[] = [];
  if (typeof meta.from === 'string' && typeof meta.to === 'string') {
    parts.push(`${meta.from} → ${meta.to}`);
  }
  for (const key of ['action', 'comment', 'reason', 'check', 'commit']) {
    const v = meta[key];
    if (typeof v === 'string' && v && !(key === 'action' && parts.length)) {
      parts.push(`${key}: ${v}`);
    }
  }
  if (typeof meta.activeVersion === 'string') {
    parts.push(`active: ${meta.activeVersion}`);
  }
  return parts.join('; ');
}

function downloadBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function AuditTrail() {
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const links = useHubLinks();
  const [actorInput, setActorInput] = useState('');
  const [modelInput, setModelInput] = useState('');
  const [event, setEvent] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(50);
  const [exporting, setExporting] = useState(false);
  const actor = useDebounced(actorInput.trim(), 300);
  const model = useDebounced(modelInput.trim(), 300);

  const filters = useMemo(
    (): Omit<ListAuditRequest, 'offset' | 'limit'> => ({
      actor: actor ? [actorRef(actor)] : undefined,
      model: model ? [modelRef(model)] : undefined,
      event: event ? [event] : undefined,
      from: from || undefined,
      to: to || undefined,
    }),
    [actor, model, event, from, to],
  );
  useEffect(() => setPage(0), [filters]);

  const events = useAsync(() => api.listAuditEvents().catch(() => []), [api]);
  const entries = useAsync(
    () =>
      api.listAudit({ ...filters, offset: page * pageSize, limit: pageSize }),
    [api, filters, page, pageSize],
  );

  const exportCsv = async () => {
    setExporting(true);
    try {
      const { blob, filename, truncated } = await api.exportAudit(filters);
      downloadBlob(blob, filename);
      if (truncated) {
        alertApi.post({
          message:
            'The export was cut at the backend’s row limit; narrow the dates to get everything.',
          severity: 'warning',
        });
      }
    } catch (e) {
      alertApi.post({ message: messageOf(e), severity: 'error' });
    } finally {
      setExporting(false);
    }
  };

  return (
    <>
      <Box
        display="flex"
        flexWrap="wrap"
        alignItems="center"
        style={{ gap: 12 }}
        mb={2}
        role="search"
        aria-label="Search the audit trail"
      >
        <TextField
          id="model-hub-audit-actor"
          label="Actor"
          placeholder="alice or user:default/alice"
          size="small"
          variant="outlined"
          value={actorInput}
          onChange={e => setActorInput(e.target.value)}
        />
        <TextField
          id="model-hub-audit-model"
          label="Model"
          placeholder="tiny-llm or model:default/tiny-llm"
          size="small"
          variant="outlined"
          value={modelInput}
          onChange={e => setModelInput(e.target.value)}
        />
        <TextField
          select
          label="Event"
          size="small"
          variant="outlined"
          style={{ minWidth: 200 }}
          value={event}
          onChange={e => setEvent(e.target.value)}
          SelectProps={{ inputProps: { 'aria-label': 'Event' } }}
        >
          <MenuItem value="">All</MenuItem>
          {[...new Set([...(events.value ?? []), ...(event ? [event] : [])])]
            .sort()
            .map(e => (
              <MenuItem key={e} value={e}>
                {e}
              </MenuItem>
            ))}
        </TextField>
        <TextField
          id="model-hub-audit-from"
          label="From"
          type="date"
          size="small"
          variant="outlined"
          InputLabelProps={{ shrink: true }}
          value={from}
          onChange={e => setFrom(e.target.value)}
        />
        <TextField
          id="model-hub-audit-to"
          label="To"
          type="date"
          size="small"
          variant="outlined"
          InputLabelProps={{ shrink: true }}
          value={to}
          onChange={e => setTo(e.target.value)}
        />
        <Button
          variant="outlined"
          color="primary"
          onClick={exportCsv}
          disabled={exporting}
          data-testid="audit-export-csv"
        >
          Export CSV
        </Button>
      </Box>
      {entries.loading && !entries.value && <Progress />}
      {entries.error && <ResponseErrorPanel error={entries.error} />}
      {entries.value && entries.value.items.length === 0 && (
        <EmptyState
          missing="data"
          title="No audit entries match"
          description="Change the actor, model, event or dates."
        />
      )}
      {entries.value && entries.value.items.length > 0 && (
        <Paper>
          <Table size="small" aria-label="Audit trail">
            <TableHead>
              <TableRow>
                <TableCell>Time</TableCell>
                <TableCell>Event</TableCell>
                <TableCell>Actor</TableCell>
                <TableCell>Model</TableCell>
                <TableCell>Version</TableCell>
                <TableCell>Details</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {entries.value.items.map(e => (
                <TableRow key={e.id} data-audit={e.id}>
                  <TableCell style={{ whiteSpace: 'nowrap' }}>
                    {formatTime(e.createdAt)}
                  </TableCell>
                  <TableCell>
                    <code>{e.eventId}</code>
                  </TableCell>
                  <TableCell>
                    {e.actor.replace(/^user:(default\/)?/, '')}
                  </TableCell>
                  <TableCell>
                    {e.modelRef ? (
                      <Link to={links.catalog(e.modelRef)}>
                        {e.modelRef.replace(/^model:(default\/)?/, '')}
                      </Link>
                    ) : (
                      '–'
                    )}
                  </TableCell>
                  <TableCell>{e.versionLabel ?? '–'}</TableCell>
                  <TableCell>
                    <Typography variant="body2">{details(e)}</Typography>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <TablePagination
            component="div"
            count={entries.value.totalCount}
            page={page}
            rowsPerPage={pageSize}
            rowsPerPageOptions={[25, 50, 100, 200]}
            onPageChange={(_e, p) => setPage(p)}
            onRowsPerPageChange={e => {
              setPageSize(Number(e.target.value));
              setPage(0);
            }}
          />
        </Paper>
      )}
    </>
  );
}

/**
 * The audit trail of the hub: who did what to which model and when,
 * searchable by actor, model, event and date, with a CSV export under the
 * same filters. For the holders of `model-hub.audit.read` or
 * `model-hub.admin`; others are told why they see nothing.
 *
 * @public
 */
export function AuditPage() {
  const audit = usePermission({ permission: modelHubAuditReadPermission });
  const admin = usePermission({ permission: modelHubAdminPermission });
  if (audit.loading || admin.loading) {
    return (
      <Content>
        <Progress />
      </Content>
    );
  }
  if (!audit.allowed && !admin.allowed) {
    return (
      <Content>
        <WarningPanel
          severity="info"
          title="You may not read the audit trail"
          message="Reading the audit trail needs the model-hub.audit.read or the model-hub.admin permission."
        />
      </Content>
    );
  }
  return (
    <Content>
      <AuditTrail />
    </Content>
  );
}
