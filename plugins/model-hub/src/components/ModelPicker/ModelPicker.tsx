import {
  discoveryApiRef,
  fetchApiRef,
  useApiHolder,
} from '@backstage/core-plugin-api';
import { CustomFieldValidator } from '@backstage/plugin-scaffolder-react';
import FormControl from '@material-ui/core/FormControl';
import FormHelperText from '@material-ui/core/FormHelperText';
import TextField from '@material-ui/core/TextField';
import Autocomplete from '@material-ui/lab/Autocomplete';
import { useMemo } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { ModelHubClient, modelHubApiRef } from '../../api';
import {
  ApprovedVersionOption,
  loadApprovedVersions,
} from './loadApprovedVersions';
import { ModelPickerProps, ModelPickerValue } from './schema';

function label(o: ApprovedVersionOption): string {
  return `${o.title} · ${o.version} (${o.modelRef})`;
}

/**
 * A scaffolder field that picks an approved version of a model the user may
 * read. Its value is `{ modelRef, version }`.
 *
 * @public
 */
export const ModelPicker = (props: ModelPickerProps) => {
  const {
    onChange,
    schema: {
      title = 'Model version',
      description = 'An approved model version',
    },
    required,
    uiSchema,
    rawErrors,
    formData,
    idSchema,
  } = props;
  const holder = useApiHolder();
  const api = useMemo(() => {
    const registered = holder.get(modelHubApiRef);
    if (registered) {
      return registered;
    }
    const discoveryApi = holder.get(discoveryApiRef);
    const fetchApi = holder.get(fetchApiRef);
    if (!discoveryApi || !fetchApi) {
      throw new Error('ModelPicker needs the discovery and fetch APIs');
    }
    return new ModelHubClient({ discoveryApi, fetchApi });
  }, [holder]);
  const types = uiSchema?.['ui:options']?.types;
  const owners = uiSchema?.['ui:options']?.owners;
  const {
    value: options = [],
    loading,
    error,
  } = useAsync(
    () => loadApprovedVersions(api, { types, owners }),
    [api, JSON.stringify(types), JSON.stringify(owners)],
  );
  const selected =
    options.find(
      o => o.modelRef === formData?.modelRef && o.version === formData?.version,
    ) ?? null;

  return (
    <FormControl
      margin="normal"
      required={required}
      error={(rawErrors?.length ?? 0) > 0 || Boolean(error)}
    >
      <Autocomplete
        id={idSchema?.$id}
        options={options}
        loading={loading}
        value={selected}
        groupBy={o => o.title}
        getOptionLabel={label}
        getOptionSelected={(a, b) =>
          a.modelRef === b.modelRef && a.version === b.version
        }
        onChange={(_e, option: ApprovedVersionOption | null) =>
          onChange(
            option
              ? { modelRef: option.modelRef, version: option.version }
              : (undefined as unknown as ModelPickerValue),
          )
        }
        renderInput={params => (
          <TextField
            {...params}
            label={title}
            margin="dense"
            variant="outlined"
            required={required}
            InputProps={params.InputProps}
          />
        )}
      />
      <FormHelperText>
        {error
          ? `Could not load the approved versions: ${error.message}`
          : description}
      </FormHelperText>
    </FormControl>
  );
};

/**
 * Validates that a `ModelPicker` value names a model and a version.
 *
 * @public
 */
export const modelPickerValidation: CustomFieldValidator<ModelPickerValue> = (
  value,
  validation,
) => {
  if (value && (!value.modelRef || !value.version)) {
    validation.addError('Pick an approved model version');
  }
};
