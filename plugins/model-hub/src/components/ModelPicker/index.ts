export { ModelPicker, modelPickerValidation } from './ModelPicker';
export { ModelPickerFieldSchema } from './schema';
export type { ModelPickerProps, ModelPickerValue } from './schema';
export { modelPickerFormField } from './formField';
