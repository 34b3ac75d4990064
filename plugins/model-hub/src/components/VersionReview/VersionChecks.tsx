import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import List from '@material-ui/core/List';
import ListItem from '@material-ui/core/ListItem';
import ListItemIcon from '@material-ui/core/ListItemIcon';
import ListItemSecondaryAction from '@material-ui/core/ListItemSecondaryAction';
import ListItemText from '@material-ui/core/ListItemText';
import TextField from '@material-ui/core/TextField';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import { useState } from 'react';
import { HubCheck, modelHubApiRef, ModelRef } from '../../api';
import { isConflict, messageOf } from '../VersionActions/conflict';
import { StatePill } from '../StatePill';
import { useOptionalAsync } from './useOptionalAsync';

const WAIVABLE_STATUS = ['failed', 'error'];

function WaiveDialog(props: {
  model: ModelRef;
  label: string;
  check?: HubCheck;
  onClose(): void;
  onWaived(): void;
  onConflict(message: string): void;
}) {
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const close = () => {
    setReason('');
    setError(undefined);
    props.onClose();
  };
  const waive = async () => {
    if (!props.check) {
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.waiveCheck(
        props.model,
        props.label,
        props.check.name,
        reason.trim(),
      );
      alertApi.post({
        message: `Check ${props.check.name} waived`,
        severity: 'success',
        display: 'transient',
      });
      close();
      props.onWaived();
    } catch (e) {
      if (isConflict(e)) {
        close();
        props.onConflict(
          `Someone changed version ${
            props.label
          } first; the checks were reloaded. ${messageOf(e)}`,
        );
      } else {
        setError(messageOf(e));
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open={Boolean(props.check)}
      onClose={busy ? undefined : close}
      fullWidth
      maxWidth="sm"
      aria-labelledby="model-hub-waive-title"
    >
      <DialogTitle id="model-hub-waive-title">
        Waive check {props.check?.name}
      </DialogTitle>
      <DialogContent>
        <DialogContentText>
          A waived check no longer blocks approval. The waiver is audited and
          lapses when the files of the version change.
        </DialogContentText>
        <TextField
          id="model-hub-waive-reason"
          label="Reason (required)"
          multiline
          minRows={3}
          fullWidth
          required
          variant="outlined"
          value={reason}
          onChange={e => setReason(e.target.value)}
        />
        {error && (
          <Box mt={2}>
            <Alert severity="error">{error}</Alert>
          </Box>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={close} disabled={busy}>
          Cancel
        </Button>
        <Button
          variant="contained"
          color="primary"
          disabled={busy || !reason.trim()}
          onClick={waive}
          data-testid="version-action-waive-confirm"
        >
          Waive check
        </Button>
      </DialogActions>
    </Dialog>
  );
}

/** Waives a check: administrators only, explained to others. */
function WaiveButton(props: { check: string; onClick(): void }) {
  const admin = usePermission({ permission: modelHubAdminPermission });
  let denied: string | undefined;
  if (admin.loading) {
    denied = 'Checking your permissions…';
  } else if (!admin.allowed) {
    denied = 'Only administrators (model-hub.admin) may waive checks';
  }
  return (
    <Tooltip title={denied ?? ''}>
      <span>
        <Button
          size="small"
          variant="outlined"
          disabled={Boolean(denied)}
          aria-label={`Waive ${props.check}`}
          data-testid="version-action-waive"
          onClick={props.onClick}
        >
          Waive
        </Button>
      </span>
    </Tooltip>
  );
}

/**
 * The inspection checks of a version (file formats, pickle scan, sizes,
 * digests), with their status; administrators waive failed checks (with a
 * reason) while the version may still change.
 *
 * @public
 */
export function VersionChecks(props: {
  model: ModelRef;
  label: string;
  /** Whether failed checks may be waived (the version is not decided yet). */
  waivable?: boolean;
  /** After a waiver. */
  onWaived?(): void;
}) {
  const api = useApi(modelHubApiRef);
  const [reload, setReload] = useState(0);
  const [waiving, setWaiving] = useState<HubCheck>();
  const [conflict, setConflict] = useState<string>();
  const { value, loading, error, unavailable } = useOptionalAsync(
    () => api.listChecks(props.model, props.label),
    [api, props.model, props.label, reload],
  );
  if (loading && !value) {
    return <Progress />;
  }
  if (error) {
    return <ResponseErrorPanel error={error} />;
  }
  if (unavailable || !value || value.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No inspection checks for this version.
      </Typography>
    );
  }
  const canWaive = (check: HubCheck) =>
    props.waivable &&
    WAIVABLE_STATUS.includes(check.status) &&
    (!check.waiver || check.waiver.lapsed);
  return (
    <>
      {conflict && (
        <Alert severity="warning" onClose={() => setConflict(undefined)}>
          {conflict}
        </Alert>
      )}
      <List dense aria-label="Checks">
        {value.map(check => (
          <ListItem key={check.name} disableGutters>
            <ListItemIcon style={{ minWidth: 96 }}>
              <StatePill
                state={
                  check.waiver && !check.waiver.lapsed ? 'waived' : check.status
                }
              />
            </ListItemIcon>
            <ListItemText
              primary={`${check.name}${check.required ? ' (required)' : ''}`}
              secondary={
                check.waiver
                  ? `${check.status}, ${
                      check.waiver.lapsed ? 'lapsed waiver of' : 'waived by'
                    } ${check.waiver.waivedBy.replace(
                      /^user:(default\/)?/,
                      '',
                    )}: ${check.waiver.reason}`
                  : check.summary
              }
            />
            {canWaive(check) && (
              <ListItemSecondaryAction>
                <WaiveButton
                  check={check.name}
                  onClick={() => {
                    setConflict(undefined);
                    setWaiving(check);
                  }}
                />
              </ListItemSecondaryAction>
            )}
          </ListItem>
        ))}
      </List>
      <WaiveDialog
        model={props.model}
        label={props.label}
        check={waiving}
        onClose={() => setWaiving(undefined)}
        onWaived={() => {
          setReload(r => r + 1);
          props.onWaived?.();
        }}
        onConflict={message => {
          setConflict(message);
          setReload(r => r + 1);
          props.onWaived?.();
        }}
      />
    </>
  );
}
