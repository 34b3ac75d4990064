import Box from '@material-ui/core/Box';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import useAsync from 'react-use/esm/useAsync';
import { formatTime } from '../../lib/format';
import { HubImportEvidence, useTransferClient } from './transferClient';

const userName = (ref: string) => ref.replace(/^user:(default\/)?/, '');

/** "approved on portal X by bob on …", from the signed evidence. */
export function approvalSummary(imported: HubImportEvidence): string {
  const approvals = imported.evidence.approvedBy ?? [];
  const who = approvals.length
    ? approvals
        .map(a => `${userName(a.reviewer)} on ${formatTime(a.at)}`)
        .join(', ')
    : 'no recorded reviewer';
  return `Approved on portal ${imported.portal} by ${who}`;
}

/**
 * The approval evidence a version was imported with from another portal's
 * signed bundle: who approved it there and when, its checks and waivers,
 * and how it landed here. Renders nothing for versions made here.
 *
 * @public
 */
export function ImportedEvidence(props: { model: string; label: string }) {
  const client = useTransferClient();
  // a failure (an app without the transfer routes) shows nothing
  const { value } = useAsync(
    async () => client().getImportEvidence(props.model, props.label),
    [client, props.model, props.label],
  );
  if (!value) {
    return null;
  }
  const { evidence } = value;
  const checks = evidence.checks ?? [];
  const waivers = evidence.waivers ?? [];
  return (
    <Box mb={2}>
      <Alert severity={value.policy === 'trust' ? 'success' : 'info'}>
        <Typography variant="body2">
          <strong>{approvalSummary(value)}</strong>
        </Typography>
        <Typography variant="body2">
          Imported by {userName(value.importedBy)} on{' '}
          {formatTime(value.importedAt)} from a bundle signed with the key of{' '}
          {value.trustedKeyName} ({value.keyId.slice(0, 19)}…);{' '}
          {value.policy === 'trust'
            ? 'approved here as the evidence says'
            : 'in review here: the evidence is shown to the reviewers'}
          .
        </Typography>
        <Typography variant="body2">
          {checks.length} checks (
          {checks.map(c => `${c.name}: ${c.status}`).join(', ') || 'none'})
          {waivers.length ? `, ${waivers.length} waived` : ''}; approved content{' '}
          {evidence.approvedDigest?.slice(0, 19)}…
        </Typography>
      </Alert>
    </Box>
  );
}
