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
  /**
   * Largest safetensors JSON header, bytes. safetensors itself allows
   * 100 MB; real headers are kilobytes to a few megabytes, and a smaller
   * cap bounds the memory of parsing a hostile one.
   */
  maxSafetensorsHeaderBytes: number;
  /** Most tensors a safetensors or GGUF file may declare. */
  maxTensors: number;
  /** Most bytes of metadata read from GGUF/ONNX headers. */
  maxMetadataBytes: number;
  /** Most bytes of pickle data scanned per file. */
  maxPickleScanBytes: number;
  /** Largest config.json parsed. */
  maxConfigJsonBytes: number;
  /** Most opcodes a pickle scan executes per file. */
  maxPickleOpcodes: number;
  /** Most dimensions of one tensor (safetensors, GGUF). */
  maxDimensions: number;
  /** Most metadata entries (safetensors `__metadata__`, GGUF key/values, ONNX fields). */
  maxMetadataEntries: number;
  /** Longest string read from a header (names, metadata values). */
  maxStringBytes: number;
  /** Inspection worker threads (`modelHub.inspection.workers`). */
  workers: number;
  /**
   * CPU time one file's inspection may use in its worker before the worker
   * is terminated and the file's check fails.
   */
  cpuTimeLimitMs: number;
  /** Wall-clock time one file's inspection may take, reads included. */
  wallTimeLimitMs: number;
  /** Heap of an inspection worker, MiB; running out fails the file. */
  workerMemoryMiB: number;
};

/** @internal */
export const DEFAULT_INSPECTION_LIMITS: InspectionLimits = {
  maxSafetensorsHeaderBytes: 16 * 1024 * 1024,
  maxTensors: 1_000_000,
  maxMetadataBytes: 64 * 1024 * 1024,
  maxPickleScanBytes: 16 * 1024 * 1024,
  maxConfigJsonBytes: 16 * 1024 * 1024,
  maxPickleOpcodes: 8_000_000,
  maxDimensions: 64,
  maxMetadataEntries: 1_000_000,
  maxStringBytes: 16 * 1024 * 1024,
  workers: 2,
  cpuTimeLimitMs: 20_000,
  wallTimeLimitMs: 120_000,
  workerMemoryMiB: 512,
};
