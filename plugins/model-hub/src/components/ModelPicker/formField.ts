import { createFormField } from '@backstage/plugin-scaffolder-react/alpha';
import { ModelPicker, modelPickerValidation } from './ModelPicker';
import { ModelPickerFieldSchema } from './schema';

/**
 * The `ModelPicker` field for the new frontend system.
 *
 * @alpha
 */
export const modelPickerFormField = createFormField({
  name: 'ModelPicker',
  component: ModelPicker,
  validation: modelPickerValidation,
  schema: ModelPickerFieldSchema,
});
