import { alertApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import { modelHubExportPermission } from '@model-hub/backstage-plugin-model-hub-common';
import Button from '@material-ui/core/Button';
import { useState } from 'react';
import { useTransferClient } from './transferClient';

/** The states a version can be exported in. */
const EXPORTABLE = ['approved', 'deprecated'];

/**
 * "Export bundle": downloads a signed bundle (OCI image layout in a tar)
 * of an approved version with its approval evidence, for an air-gapped
 * portal. Shown to people with `model-hub.export`, on approved and
 * deprecated versions.
 *
 * @public
 */
export function ExportVersionButton(props: {
  model: string;
  version: { label: string; state: string };
}) {
  const { model, version } = props;
  const client = useTransferClient();
  const alertApi = useApi(alertApiRef);
  const allowed = usePermission({ permission: modelHubExportPermission });
  const [busy, setBusy] = useState(false);
  if (!allowed.allowed || !EXPORTABLE.includes(version.state)) {
    return null;
  }
  const name = `${model.replace(/^model:/, '').replace(/[^\w.+-]/g, '_')}-${
    version.label
  }.oci.tar`;
  const onClick = async () => {
    setBusy(true);
    try {
      const blob = await client().exportVersion(model, version.label);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      alertApi.post({
        message: `Exported ${version.label} with its approval evidence (${name})`,
        severity: 'success',
        display: 'transient',
      });
    } catch (e) {
      alertApi.post({ message: (e as Error).message, severity: 'error' });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button variant="outlined" size="small" disabled={busy} onClick={onClick}>
      {busy ? 'Exporting…' : 'Export bundle'}
    </Button>
  );
}
