import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import Typography from '@material-ui/core/Typography';
import { ReactNode, useState } from 'react';

/**
 * A dialog that asks before deleting something; `onConfirm` runs the delete,
 * and an error stays in the dialog.
 *
 * @public
 */
export function ConfirmDeleteDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel?: string;
  onConfirm(): Promise<void>;
  onClose(): void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
    } catch (e) {
      // the backend's message (why it cannot be deleted), not only the status
      const body = (e as { body?: { error?: { message?: string } } }).body;
      setError(body?.error?.message ?? (e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    setError(undefined);
    props.onClose();
  };

  return (
    <Dialog
      open={props.open}
      onClose={busy ? undefined : close}
      fullWidth
      maxWidth="sm"
      aria-labelledby="confirm-delete-title"
    >
      <DialogTitle id="confirm-delete-title">{props.title}</DialogTitle>
      <DialogContent>
        <DialogContentText component="div">{props.children}</DialogContentText>
        {error && (
          <Typography color="error" variant="body2" role="alert">
            {error}
          </Typography>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={close} disabled={busy}>
          Cancel
        </Button>
        <Button
          variant="contained"
          color="secondary"
          disabled={busy}
          onClick={confirm}
        >
          {props.confirmLabel ?? 'Delete'}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
