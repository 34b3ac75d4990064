import type { Entity } from '@backstage/catalog-model';

/**
 * The API version of the `Model` kind.
 *
 * @public
 */
export const MODEL_API_VERSION = 'model-hub.dev/v1alpha1' as const;

/**
 * The name of the `Model` kind.
 *
 * @public
 */
export const MODEL_KIND = 'Model' as const;

/**
 * The annotation (value `hub`) on the Model entities the Model Hub entity
 * provider emits, i.e. models created through the API: their hub row is
 * their source of truth, so the catalog reconcile never reads them back.
 *
 * @public
 */
export const MODEL_HUB_ORIGIN_ANNOTATION = 'model-hub.dev/origin';

/**
 * The types a Model can have.
 *
 * @public
 */
export const MODEL_TYPES = [
  'llm',
  'embedding',
  'vision',
  'audio',
  'diffusion',
  'tabular',
  'other',
] as const;

/**
 * The type of a Model.
 *
 * @public
 */
export type ModelType = (typeof MODEL_TYPES)[number];

/**
 * The serialization formats a Model's weights can have.
 *
 * @public
 */
export const MODEL_FORMATS = [
  'safetensors',
  'gguf',
  'onnx',
  'pytorch',
  'joblib',
  'other',
] as const;

/**
 * The serialization format of a Model's weights.
 *
 * @public
 */
export type ModelFormat = (typeof MODEL_FORMATS)[number];

/**
 * A Hugging Face repository as the source of a Model.
 *
 * @public
 */
export type ModelHuggingFaceSource = {
  huggingface: {
    /** The repository id, `org/name`. */
    repo: string;
    /** A branch, tag or commit id; defaults to `main`. */
    revision?: string;
  };
};

/**
 * Where a Model's artifacts come from: a Hugging Face repository, or uploads.
 *
 * @public
 */
export type ModelSource =
  | 'upload'
  | { upload: { [key: string]: string | number | boolean } }
  | ModelHuggingFaceSource;

/**
 * The spec of a Model entity.
 *
 * @public
 */
export type ModelEntitySpec = {
  type: ModelType;
  lifecycle: string;
  owner: string;
  system?: string;
  task?: string;
  format?: ModelFormat;
  license?: string;
  source?: ModelSource;
  baseModels?: string[];
  datasets?: string[];
  tags?: string[];
};

/**
 * A Model entity, kind `Model` of apiVersion `model-hub.dev/v1alpha1`.
 *
 * @public
 */
export interface ModelEntityV1alpha1 extends Entity {
  apiVersion: typeof MODEL_API_VERSION;
  kind: typeof MODEL_KIND;
  spec: ModelEntitySpec;
}

/**
 * A Model entity, of the current version.
 *
 * @public
 */
export type ModelEntity = ModelEntityV1alpha1;
