import { makeFieldSchema } from '@backstage/plugin-scaffolder-react';

/**
 * The value and `ui:options` of the `ModelPicker` scaffolder field: an
 * approved model version, as `{ modelRef, version }`.
 *
 * @public
 */
export const ModelPickerFieldSchema = makeFieldSchema({
  output: z =>
    z.object({
      modelRef: z.string().describe('Entity ref of the Model'),
      version: z.string().describe('Label of an approved version'),
    }),
  uiOptions: z =>
    z.object({
      types: z
        .array(z.string())
        .optional()
        .describe('Only models of these types, e.g. [llm]'),
      owners: z
        .array(z.string())
        .optional()
        .describe('Only models owned by these groups (entity refs)'),
    }),
});

/**
 * The value of the `ModelPicker` field.
 *
 * @public
 */
export type ModelPickerValue = typeof ModelPickerFieldSchema.TOutput;

/**
 * The props of the `ModelPicker` field.
 *
 * @public
 */
export type ModelPickerProps = typeof ModelPickerFieldSchema.TProps;
