/** @internal */
export type CheckStatus = 'pass' | 'warn' | 'fail';

/**
 * The result of one check of a version, as stored in `version_checks`:
 * `name` is `<kind>:<file path>`, e.g. `format:safetensors:model.safetensors`
 * or `safety:pickle:pytorch_model.bin`.
 *
 * @internal
 */
export type InspectionCheck = {
  name: string;
  status: CheckStatus;
  summary: string;
  details: Record<string, unknown>;
};

/** Limits of the inspectors. @internal */
export type InspectionLimits = {
  /** Largest safetensors JSON header, bytes (safetensors' own cap is 100 MB). */
  maxSafetensorsHeaderBytes: number;
  /** Most tensors a safetensors or GGUF file may declare. */
  maxTensors: number;
  /** Most bytes of metadata read from GGUF/ONNX headers. */
  maxMetadataBytes: number;
  /** Most bytes of pickle data scanned per file. */
  maxPickleScanBytes: number;
  /** Largest config.json parsed. */
  maxConfigJsonBytes: number;
};

/** @internal */
export const DEFAULT_INSPECTION_LIMITS: InspectionLimits = {
  maxSafetensorsHeaderBytes: 100_000_000,
  maxTensors: 1_000_000,
  maxMetadataBytes: 64 * 1024 * 1024,
  maxPickleScanBytes: 64 * 1024 * 1024,
  maxConfigJsonBytes: 16 * 1024 * 1024,
};
