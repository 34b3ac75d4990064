import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubVersionApprovePermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Chip from '@material-ui/core/Chip';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import TextField from '@material-ui/core/TextField';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import { useState } from 'react';
import { HubVersion, modelHubApiRef, VersionState } from '../../api';
import { humanize } from '../../lib/format';
import { VersionDiffView } from '../VersionReview';
import {
  actionsFor,
  ActionSpec,
  DENIED,
  PERMISSION_NAMES,
  PermissionKind,
} from './actionSpecs';
import { isConflict, messageOf, shortRef } from './conflict';

export type { VersionActionId } from './actionSpecs';

type Feedback = { severity: 'warning' | 'error'; message: string };

/**
 * The lifecycle actions of a version: submit, approve, request changes,
 * reject, promote to active, roll back, deprecate, archive and revoke,
 * each shown in the states it applies to, enabled when the user may take
 * it and otherwise disabled with the reason as its tooltip. Each asks for
 * confirmation (with a comment where one is required); promote and roll
 * back show the diff against the current active version first. A 409
 * (someone decided first) reloads the version and says what happened.
 *
 * @public
 */
export function VersionActions(props: {
  /** The model's entity ref. */
  model: string;
  version: HubVersion;
  /** The label of the model's active version, null for none (undefined: not known). */
  activeLabel?: string | null;
  /** The active version (for its creation time). */
  activeVersion?: Pick<HubVersion, 'label' | 'createdAt'>;
  /** The version a rollback of the active version goes back to. */
  rollbackTarget?: string;
  /** Show reviewers' actions (default true). */
  review?: boolean;
  /** Show owners' actions (default true). */
  owner?: boolean;
  /** After an action, or after a conflict: reload. */
  onChanged(): void;
}) {
  const { model, version } = props;
  const api = useApi(modelHubApiRef);
  const alertApi = useApi(alertApiRef);
  const permissions: Record<
    PermissionKind,
    { loading: boolean; allowed: boolean }
  > = {
    create: usePermission({
      permission: modelHubVersionCreatePermission,
      resourceRef: model,
    }),
    review: usePermission({
      permission: modelHubVersionReviewPermission,
      resourceRef: model,
    }),
    approve: usePermission({
      permission: modelHubVersionApprovePermission,
      resourceRef: model,
    }),
  };
  const [open, setOpen] = useState<ActionSpec>();
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState<string>();
  const [feedback, setFeedback] = useState<Feedback>();

  const isActive = props.activeLabel === version.label;
  const olderThanActive = Boolean(
    props.activeVersion &&
      props.activeVersion.label !== version.label &&
      version.createdAt < props.activeVersion.createdAt,
  );
  const actions = actionsFor({
    state: version.state,
    isActive,
    olderThanActive,
    canRollBack: Boolean(props.rollbackTarget),
    review: props.review ?? true,
    owner: props.owner ?? true,
  });

  const reasonFor = (a: ActionSpec): string | undefined => {
    const p = permissions[a.permission];
    if (p.loading) {
      return 'Checking your permissions…';
    }
    if (!p.allowed) {
      return `${DENIED[a.permission]} (${PERMISSION_NAMES[a.permission]})`;
    }
    if (a.id === 'submit' && version.fileCount === 0) {
      return 'Upload files first: the version has no files';
    }
    return undefined;
  };

  /** The version (and active version) after a conflict, in words. */
  const explainConflict = async (a: ActionSpec, error: unknown) => {
    const server = messageOf(error);
    try {
      if (a.id === 'promote' || a.id === 'rollback') {
        const now = await api.getActiveVersion(model);
        return `Someone changed the active version first: it is now ${
          now.active
            ? `${now.active.label} (by ${shortRef(now.active.promotedBy)})`
            : 'none'
        }. ${server}`;
      }
      const fresh = await api.getVersion(model, version.label);
      return `Someone acted on version ${
        version.label
      } first: it is now ${humanize(fresh.state).toLocaleLowerCase(
        'en-US',
      )}. ${server}`;
    } catch {
      return `Someone acted on version ${version.label} first. ${server}`;
    }
  };

  const perform = (a: ActionSpec, text: string | undefined) => {
    switch (a.id) {
      case 'promote':
        return api.promoteVersion(model, version.label, {
          expectedActive: props.activeLabel ?? null,
        });
      case 'rollback':
        return api.rollbackVersion(model, {
          label: isActive ? props.rollbackTarget : version.label,
          expectedActive: props.activeLabel ?? null,
        });
      case 'submit':
        return api.submitVersion(model, version.label, {
          comment: text,
          revision: version.revision,
        });
      case 'approve':
      case 'request_changes':
      case 'reject':
        return api.reviewVersion(model, version.label, {
          decision: a.id,
          comment: text,
          revision: version.revision,
        });
      default:
        return api.transitionVersion(model, version.label, {
          action: a.id,
          comment: text,
          revision: version.revision,
        });
    }
  };

  const successMessage = (a: ActionSpec, result: unknown): string => {
    if (a.id === 'promote' || a.id === 'rollback') {
      const label = (result as { label?: string })?.label ?? version.label;
      return `Version ${label} is now the active version`;
    }
    const r = result as {
      to?: VersionState;
      approvals?: { count: number; required: number };
    };
    if (a.id === 'approve' && r?.to === 'in_review' && r.approvals) {
      return `Approved: ${r.approvals.count} of ${r.approvals.required} approvals`;
    }
    return `Version ${version.label} is now ${humanize(
      r?.to ?? version.state,
    ).toLocaleLowerCase('en-US')}`;
  };

  const close = () => {
    setOpen(undefined);
    setComment('');
    setDialogError(undefined);
  };

  const confirm = async () => {
    if (!open) {
      return;
    }
    const a = open;
    setBusy(true);
    setDialogError(undefined);
    try {
      const result = await perform(a, comment.trim() || undefined);
      alertApi.post({
        message: successMessage(a, result),
        severity: 'success',
        display: 'transient',
      });
      setFeedback(undefined);
      close();
      props.onChanged();
    } catch (e) {
      if (isConflict(e)) {
        setFeedback({
          severity: 'warning',
          message: await explainConflict(a, e),
        });
        close();
        props.onChanged();
      } else {
        setDialogError(messageOf(e));
      }
    } finally {
      setBusy(false);
    }
  };

  const against =
    open?.id === 'rollback' && isActive ? version.label : props.activeLabel;
  const diffSubject =
    open?.id === 'rollback' && isActive ? props.rollbackTarget : version.label;

  return (
    <Box display="flex" flexDirection="column" style={{ gap: 8 }}>
      <Box
        display="flex"
        flexWrap="wrap"
        alignItems="center"
        style={{ gap: 8 }}
        role="group"
        aria-label={`Actions of version ${version.label}`}
      >
        {isActive && (
          <Chip size="small" color="primary" label="Active version" />
        )}
        {actions.map(a => {
          const reason = reasonFor(a);
          return (
            <Tooltip key={a.id + a.label} title={reason ?? ''}>
              <span>
                <Button
                  size="small"
                  variant={a.variant}
                  color={a.color}
                  disabled={busy || Boolean(reason)}
                  data-testid={`version-action-${a.id}`}
                  onClick={() => {
                    setFeedback(undefined);
                    setOpen(a);
                  }}
                >
                  {a.label}
                </Button>
              </span>
            </Tooltip>
          );
        })}
      </Box>
      {feedback && (
        <Alert
          severity={feedback.severity}
          onClose={() => setFeedback(undefined)}
        >
          {feedback.message}
        </Alert>
      )}
      <Dialog
        open={Boolean(open)}
        onClose={busy ? undefined : close}
        maxWidth={
          open?.id === 'promote' || open?.id === 'rollback' ? 'md' : 'sm'
        }
        fullWidth
        aria-labelledby="model-hub-version-action-title"
      >
        {open && (
          <>
            <DialogTitle id="model-hub-version-action-title">
              {open.id === 'rollback' && isActive
                ? `Roll back from ${version.label} to ${props.rollbackTarget}`
                : `${open.label}: version ${version.label}`}
            </DialogTitle>
            <DialogContent>
              <DialogContentText>{open.description}</DialogContentText>
              {(open.id === 'promote' || open.id === 'rollback') &&
                (against && diffSubject ? (
                  <Box mb={2}>
                    <VersionDiffView
                      model={model}
                      label={diffSubject}
                      against={against}
                    />
                  </Box>
                ) : (
                  <Typography variant="body2" color="textSecondary" paragraph>
                    The model has no active version yet.
                  </Typography>
                ))}
              {open.comment !== 'none' && (
                <TextField
                  id="model-hub-version-action-comment"
                  label={
                    open.comment === 'required'
                      ? 'Reason (required)'
                      : 'Comment (optional)'
                  }
                  multiline
                  minRows={3}
                  fullWidth
                  variant="outlined"
                  value={comment}
                  onChange={e => setComment(e.target.value)}
                  required={open.comment === 'required'}
                />
              )}
              {dialogError && (
                <Box mt={2}>
                  <Alert severity="error">{dialogError}</Alert>
                </Box>
              )}
            </DialogContent>
            <DialogActions>
              <Button onClick={close} disabled={busy}>
                Cancel
              </Button>
              <Button
                color={open.color === 'secondary' ? 'secondary' : 'primary'}
                variant="contained"
                disabled={
                  busy || (open.comment === 'required' && !comment.trim())
                }
                onClick={confirm}
                data-testid={`version-action-${open.id}-confirm`}
              >
                {open.confirm}
              </Button>
            </DialogActions>
          </>
        )}
      </Dialog>
    </Box>
  );
}
