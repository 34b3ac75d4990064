import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubAdminPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Button from '@material-ui/core/Button';
import { useState } from 'react';
import { HubModel, modelHubApiRef } from '../../api';
import { ConfirmDeleteDialog } from './ConfirmDeleteDialog';

/**
 * "Delete model", shown to admins (`model-hub.admin`) for a model created
 * through the API or one the catalog no longer holds (a catalog-defined
 * model is removed from the catalog first). Asks for confirmation first.
 *
 * @public
 */
export function DeleteModelButton(props: {
  model: Pick<HubModel, 'entityRef' | 'name' | 'origin' | 'orphanedAt'> & {
    versions?: unknown[];
  };
  onDeleted(): void;
}) {
  const { model } = props;
  const api = useApi(modelHubApiRef);
  const [open, setOpen] = useState(false);
  const admin = usePermission({ permission: modelHubAdminPermission });
  if (!admin.allowed || (model.origin === 'catalog' && !model.orphanedAt)) {
    return null;
  }
  return (
    <>
      <Button
        variant="outlined"
        size="small"
        color="secondary"
        onClick={() => setOpen(true)}
      >
        Delete model
      </Button>
      <ConfirmDeleteDialog
        open={open}
        title={`Delete model ${model.name}?`}
        confirmLabel="Delete model"
        onClose={() => setOpen(false)}
        onConfirm={async () => {
          await api.deleteModel(model.entityRef);
          setOpen(false);
          props.onDeleted();
        }}
      >
        The model {model.entityRef}
        {model.versions ? ` and its ${model.versions.length} versions` : ''},
        their files and jobs are deleted for good. Files that no other model
        holds are removed from the store.
      </ConfirmDeleteDialog>
    </>
  );
}
