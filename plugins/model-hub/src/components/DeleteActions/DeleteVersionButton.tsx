import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubAdminPermission,
  modelHubVersionCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Button from '@material-ui/core/Button';
import { useState } from 'react';
import { HubModel, HubVersion, modelHubApiRef } from '../../api';
import { ConfirmDeleteDialog } from './ConfirmDeleteDialog';

/** Version states a model's owners may delete; admins delete any. */
export const OWNER_DELETABLE_STATES: ReadonlyArray<HubVersion['state']> = [
  'draft',
  'rejected',
];

/**
 * "Delete version", shown when the user may delete the version: the
 * model's owners (`model-hub.version.create` on it) a draft or rejected
 * version of a model that is not orphaned, admins any version. Asks for
 * confirmation first.
 *
 * @public
 */
export function DeleteVersionButton(props: {
  model: Pick<HubModel, 'entityRef' | 'orphanedAt'>;
  version: Pick<HubVersion, 'label' | 'state' | 'fileCount'>;
  onDeleted(): void;
}) {
  const { model, version } = props;
  const api = useApi(modelHubApiRef);
  const [open, setOpen] = useState(false);
  const owner = usePermission({
    permission: modelHubVersionCreatePermission,
    resourceRef: model.entityRef,
  });
  const admin = usePermission({ permission: modelHubAdminPermission });
  const permitted =
    admin.allowed ||
    (owner.allowed &&
      !model.orphanedAt &&
      OWNER_DELETABLE_STATES.includes(version.state));
  if (!permitted) {
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
        Delete version
      </Button>
      <ConfirmDeleteDialog
        open={open}
        title={`Delete version ${version.label}?`}
        confirmLabel="Delete version"
        onClose={() => setOpen(false)}
        onConfirm={async () => {
          await api.deleteVersion(model.entityRef, version.label);
          setOpen(false);
          props.onDeleted();
        }}
      >
        Version {version.label} ({version.state}) and its {version.fileCount}{' '}
        files are deleted for good, with its reviews and checks. Files that no
        other version holds are removed from the store.
      </ConfirmDeleteDialog>
    </>
  );
}
