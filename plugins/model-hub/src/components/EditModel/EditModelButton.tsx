import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  MODEL_FORMATS,
  MODEL_TYPES,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogTitle from '@material-ui/core/DialogTitle';
import MenuItem from '@material-ui/core/MenuItem';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { HubModel, modelHubApiRef, UpdateModelRequest } from '../../api';

type EditableModel = Pick<
  HubModel,
  | 'entityRef'
  | 'name'
  | 'origin'
  | 'orphanedAt'
  | 'updatedAt'
  | 'title'
  | 'description'
  | 'type'
  | 'task'
  | 'format'
  | 'license'
  | 'lifecycle'
  | 'owner'
  | 'system'
  | 'tags'
>;

type Form = {
  title: string;
  description: string;
  type: string;
  task: string;
  format: string;
  license: string;
  lifecycle: string;
  owner: string;
  system: string;
  tags: string;
};

function formOf(model: EditableModel): Form {
  return {
    title: model.title ?? '',
    description: model.description ?? '',
    type: model.type,
    task: model.task ?? '',
    format: model.format ?? '',
    license: model.license ?? '',
    lifecycle: model.lifecycle,
    owner: model.owner,
    system: model.system ?? '',
    tags: model.tags.join(', '),
  };
}

/**
 * The PATCH body for the fields of `form` that differ from `model`: an
 * emptied optional field is cleared (null), tags are split at commas and
 * white space. Empty when nothing changed.
 *
 * @internal
 */
export function modelPatch(
  model: EditableModel,
  form: Form,
): Omit<UpdateModelRequest, 'expectedUpdatedAt'> {
  const patch: Omit<UpdateModelRequest, 'expectedUpdatedAt'> = {};
  const optional = (value: string, before: string | undefined) => {
    const v = value.trim();
    return v === (before ?? '') ? undefined : v || null;
  };
  const title = optional(form.title, model.title);
  if (title !== undefined) patch.title = title;
  // descriptions keep their inner line breaks; only the ends are trimmed
  const description = optional(form.description, model.description);
  if (description !== undefined) patch.description = description;
  const task = optional(form.task, model.task);
  if (task !== undefined) patch.task = task;
  const license = optional(form.license, model.license);
  if (license !== undefined) patch.license = license;
  const system = optional(form.system, model.system);
  if (system !== undefined) patch.system = system;
  if (form.format !== (model.format ?? '')) {
    patch.format = (form.format || null) as UpdateModelRequest['format'];
  }
  if (form.type !== model.type) {
    patch.type = form.type as HubModel['type'];
  }
  // required fields: an emptied one is sent as is, so the server says why
  if (form.lifecycle.trim() !== model.lifecycle) {
    patch.lifecycle = form.lifecycle.trim();
  }
  if (form.owner.trim() !== model.owner) {
    patch.owner = form.owner.trim();
  }
  const tags = form.tags.split(/[\s,]+/).filter(Boolean);
  if (tags.join(',') !== model.tags.join(',')) {
    patch.tags = tags;
  }
  return patch;
}

function errorMessage(e: unknown): string {
  const err = e as {
    statusCode?: number;
    body?: { error?: { message?: string } };
    message?: string;
  };
  const message = err.body?.error?.message ?? err.message ?? String(e);
  if (err.statusCode === 409) {
    return `The model changed since you opened it; close this dialog to reload it and edit again. (${message})`;
  }
  return message;
}

/**
 * "Edit model", shown for a model created through the API to those who may
 * change it (`model-hub.version.create` on the model, as the PATCH route
 * requires). A catalog-defined model is edited in its catalog YAML and an
 * orphaned one is read-only: neither gets the button. The dialog sends only
 * the changed fields with the `updatedAt` it was opened with, so a change
 * made meanwhile fails (409) instead of being overwritten; errors stay in
 * the dialog.
 *
 * @public
 */
export function EditModelButton(props: {
  model: EditableModel;
  /** Called after a save, and on closing after a conflict: reload the model. */
  onChanged(): void;
}) {
  const { model } = props;
  const api = useApi(modelHubApiRef);
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState<Form>(() => formOf(model));
  const [basedOn, setBasedOn] = useState(model.updatedAt);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [conflict, setConflict] = useState(false);
  const permission = usePermission({
    permission: modelHubVersionCreatePermission,
    resourceRef: model.entityRef,
  });
  if (!permission.allowed || model.origin !== 'hub' || model.orphanedAt) {
    return null;
  }

  const openDialog = () => {
    setForm(formOf(model));
    setBasedOn(model.updatedAt);
    setError(undefined);
    setConflict(false);
    setOpen(true);
  };
  const close = () => {
    setOpen(false);
    setError(undefined);
    if (conflict) {
      props.onChanged();
    }
  };
  const patch = modelPatch(model, form);
  const changed = Object.keys(patch).length > 0;
  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.updateModel(model.entityRef, {
        ...patch,
        expectedUpdatedAt: basedOn,
      });
      setOpen(false);
      props.onChanged();
    } catch (e) {
      setConflict((e as { statusCode?: number }).statusCode === 409);
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const field = (key: keyof Form, label: string, extra: object = {}) => (
    <TextField
      key={key}
      id={`edit-model-${key}`}
      label={label}
      value={form[key]}
      onChange={e => setForm(f => ({ ...f, [key]: e.target.value }))}
      fullWidth
      margin="dense"
      disabled={busy}
      {...extra}
    />
  );

  return (
    <>
      <Button variant="outlined" size="small" onClick={openDialog}>
        Edit model
      </Button>
      <Dialog
        open={open}
        onClose={busy ? undefined : close}
        fullWidth
        maxWidth="sm"
        aria-labelledby="edit-model-dialog-title"
      >
        <DialogTitle id="edit-model-dialog-title">
          Edit model {model.name}
        </DialogTitle>
        <DialogContent>
          {field('title', 'Title')}
          {field('description', 'Description', { multiline: true, minRows: 2 })}
          {field('type', 'Type', {
            select: true,
            children: MODEL_TYPES.map(t => (
              <MenuItem key={t} value={t}>
                {t}
              </MenuItem>
            )),
          })}
          {field('lifecycle', 'Lifecycle', {
            helperText: 'e.g. experimental, production, deprecated',
          })}
          {field('task', 'Task', { helperText: 'e.g. text-generation' })}
          {field('format', 'Format', {
            select: true,
            children: [
              <MenuItem key="" value="">
                (none)
              </MenuItem>,
              ...MODEL_FORMATS.map(f => (
                <MenuItem key={f} value={f}>
                  {f}
                </MenuItem>
              )),
            ],
          })}
          {field('license', 'License', { helperText: 'e.g. apache-2.0' })}
          {field('owner', 'Owner', {
            helperText: 'You or one of your groups, e.g. group:default/ml',
          })}
          {field('system', 'System', { helperText: 'e.g. system:default/rag' })}
          {field('tags', 'Tags', {
            helperText: 'Lower-case, separated by commas or spaces',
          })}
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
            color="primary"
            disabled={busy || !changed || conflict}
            onClick={save}
          >
            Save
          </Button>
        </DialogActions>
      </Dialog>
    </>
  );
}
