import { InfoCard, Link, ResponseErrorPanel } from '@backstage/core-components';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import MenuItem from '@material-ui/core/MenuItem';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import Autocomplete from '@material-ui/lab/Autocomplete';
import { HubModelSummary, HubModelWithVersions } from '../../api';
import { humanize } from '../../lib/format';
import { useHubLinks } from '../../lib/hooks';
import { StatePill } from '../StatePill';
import { MUTABLE } from './uploadEntries';

/** The model and draft version the files go to. */
export function UploadTarget(props: {
  /** The models matching the search. */
  options: HubModelSummary[];
  optionsLoading: boolean;
  selectedOption: HubModelSummary | null;
  /** The chosen model (entity ref) and version label. */
  modelRef: string;
  label: string;
  /** The chosen model; null when it is not a Model Hub model. */
  model: { value?: HubModelWithVersions | null; error?: Error };
  /** Whether the caller may upload to the chosen model. */
  permission: { loading: boolean; allowed: boolean };
  onSearch(text: string): void;
  onTarget(next: { model?: string; version?: string }): void;
  onNewVersion(): void;
}) {
  const { modelRef, label, model, permission } = props;
  const links = useHubLinks();
  const versions = model.value?.versions ?? [];
  const version = versions.find(v => v.label === label);
  return (
    <InfoCard title="Target">
      <Box
        display="flex"
        flexWrap="wrap"
        style={{ gap: 16 }}
        alignItems="center"
      >
        <Autocomplete<HubModelSummary>
          style={{ minWidth: 320 }}
          options={props.options}
          loading={props.optionsLoading}
          value={props.selectedOption}
          getOptionLabel={m => m.title ?? m.name}
          getOptionSelected={(a, b) => a.entityRef === b.entityRef}
          onInputChange={(_e, value, reason) => {
            if (reason === 'input') {
              props.onSearch(value);
            }
          }}
          onChange={(_e, m) =>
            props.onTarget({ model: m?.entityRef, version: undefined })
          }
          renderInput={p => (
            <TextField
              {...p}
              label="Model"
              variant="outlined"
              size="small"
              inputProps={{ ...p.inputProps, 'aria-label': 'Model' }}
            />
          )}
        />
        <TextField
          select
          label="Version"
          variant="outlined"
          size="small"
          style={{ minWidth: 200 }}
          value={version ? label : ''}
          disabled={!model.value}
          onChange={e => props.onTarget({ version: e.target.value })}
          SelectProps={{ inputProps: { 'aria-label': 'Version' } }}
        >
          {versions.map(v => (
            <MenuItem
              key={v.id}
              value={v.label}
              disabled={!MUTABLE.includes(v.state)}
            >
              {v.label} ({humanize(v.state)})
            </MenuItem>
          ))}
        </TextField>
        <Button
          variant="outlined"
          disabled={!modelRef || !permission.allowed}
          onClick={props.onNewVersion}
        >
          New version
        </Button>
        {version && <StatePill state={version.state} />}
        {modelRef && (
          <Link to={links.catalog(modelRef)}>Open the model page</Link>
        )}
      </Box>
      {model.error && <ResponseErrorPanel error={model.error} />}
      {model.value === null && (
        <Typography color="error" variant="body2">
          {modelRef} is not a Model Hub model.
        </Typography>
      )}
      {modelRef && !permission.loading && !permission.allowed && (
        <Typography color="error" variant="body2">
          You may not upload files to {modelRef}.
        </Typography>
      )}
      {version && !MUTABLE.includes(version.state) && (
        <Typography color="error" variant="body2">
          Version {version.label} is{' '}
          {humanize(version.state).toLocaleLowerCase('en-US')}; only drafts and
          versions with changes requested accept files.
        </Typography>
      )}
    </InfoCard>
  );
}
