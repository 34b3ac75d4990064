import { useApi } from '@backstage/core-plugin-api';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogTitle from '@material-ui/core/DialogTitle';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { HubVersion, modelHubApiRef, ModelRef } from '../../api';

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/**
 * A dialog that creates a draft version of a model.
 *
 * @public
 */
export function CreateVersionDialog(props: {
  model: ModelRef;
  open: boolean;
  onClose(): void;
  onCreated(version: HubVersion): void;
}) {
  const api = useApi(modelHubApiRef);
  const [label, setLabel] = useState('');
  const [notes, setNotes] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const valid = LABEL.test(label);

  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const version = await api.createVersion(props.model, {
        label,
        notes: notes || undefined,
      });
      setLabel('');
      setNotes('');
      props.onCreated(version);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={props.open} onClose={props.onClose} fullWidth maxWidth="sm">
      <DialogTitle>New draft version</DialogTitle>
      <DialogContent>
        <TextField
          fullWidth
          margin="dense"
          label="Version label"
          placeholder="1.0.0"
          value={label}
          onChange={e => setLabel(e.target.value.trim())}
          error={label.length > 0 && !valid}
          helperText="Letters, digits, dots, dashes, underscores and plus signs"
          inputProps={{ 'aria-label': 'Version label' }}
        />
        <TextField
          fullWidth
          multiline
          minRows={2}
          margin="dense"
          label="Notes"
          value={notes}
          onChange={e => setNotes(e.target.value)}
        />
        {error && (
          <Typography color="error" variant="body2" role="alert">
            {error}
          </Typography>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={props.onClose}>Cancel</Button>
        <Button
          color="primary"
          variant="contained"
          disabled={!valid || busy}
          onClick={create}
        >
          Create
        </Button>
      </DialogActions>
    </Dialog>
  );
}
