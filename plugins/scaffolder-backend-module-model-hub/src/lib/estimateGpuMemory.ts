import { InputError } from '@backstage/errors';
import { GpuProfile, Runtime } from './config';

/** Data types of weights the estimate knows. */
export const DTYPES = ['fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4'] as const;

/** A data type of weights. */
export type Dtype = (typeof DTYPES)[number];

/** Bytes per parameter of each data type. */
export const BYTES_PER_PARAMETER: Record<Dtype, number> = {
  fp32: 4,
  fp16: 2,
  bf16: 2,
  fp8: 1,
  int8: 1,
  int4: 0.5,
};

/**
 * Extra weight memory of quantized formats, as a fraction of the packed
 * weights. int4 (GPTQ/AWQ) keeps one fp16 scale per group of 128 weights:
 * 16 bits / (128 × 4 bits) = 3.125 %. int8 and fp8 use one scale per output
 * channel, which is negligible.
 */
export const QUANTIZATION_OVERHEAD: Record<Dtype, number> = {
  fp32: 0,
  fp16: 0,
  bf16: 0,
  fp8: 0,
  int8: 0,
  int4: 16 / (128 * 4),
};

/**
 * Runtime overhead: a fixed amount per GPU (CUDA context, NCCL buffers,
 * CUDA graphs, sampler) and a fraction of weights plus KV cache for
 * activations and fragmentation.
 */
export const RUNTIME_OVERHEAD: Record<
  Runtime,
  { fixedGiB: number; fraction: number }
> = {
  vllm: { fixedGiB: 1.5, fraction: 0.1 },
  tgi: { fixedGiB: 1.5, fraction: 0.1 },
  kserve: { fixedGiB: 1.5, fraction: 0.1 },
  job: { fixedGiB: 1, fraction: 0.2 },
};

const GIB = 1024 ** 3;

/** The attention shape of a transformer, from its `config.json`. */
export type ModelArchitecture = {
  numLayers: number;
  numKeyValueHeads: number;
  headDim: number;
  torchDtype?: Dtype;
  maxPositionEmbeddings?: number;
};

/** Maps the dtype names of safetensors, PyTorch and GGUF to a {@link Dtype}. */
export function normalizeDtype(value: unknown): Dtype | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const v = value.toLowerCase().replace(/^torch\./, '');
  if (['f32', 'fp32', 'float32', 'float'].includes(v)) return 'fp32';
  if (['f16', 'fp16', 'float16', 'half'].includes(v)) return 'fp16';
  if (['bf16', 'bfloat16'].includes(v)) return 'bf16';
  if (v.startsWith('f8') || v.startsWith('fp8') || v.startsWith('float8')) {
    return 'fp8';
  }
  if (['i8', 'int8', 'q8_0'].includes(v)) return 'int8';
  if (['i4', 'int4', 'q4_0', 'q4_k_m', 'q4_k_s', 'awq', 'gptq'].includes(v)) {
    return 'int4';
  }
  return undefined;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
    ? value
    : undefined;
}

/**
 * Reads the attention shape from a Hugging Face `config.json`:
 * `num_hidden_layers`, `num_key_value_heads` (defaults to
 * `num_attention_heads`) and `head_dim` (defaults to `hidden_size /
 * num_attention_heads`). Multimodal configs keep them in `text_config`.
 */
export function readArchitecture(
  configJson: unknown,
): ModelArchitecture | undefined {
  if (!configJson || typeof configJson !== 'object') {
    return undefined;
  }
  const root = configJson as Record<string, unknown>;
  const c =
    root.num_hidden_layers === undefined &&
    root.text_config &&
    typeof root.text_config === 'object'
      ? (root.text_config as Record<string, unknown>)
      : root;
  const numLayers = positiveInt(c.num_hidden_layers ?? c.n_layer);
  const numHeads = positiveInt(c.num_attention_heads ?? c.n_head);
  const hiddenSize = positiveInt(c.hidden_size ?? c.n_embd);
  if (!numLayers || !numHeads) {
    return undefined;
  }
  const headDim =
    positiveInt(c.head_dim) ??
    (hiddenSize ? Math.round(hiddenSize / numHeads) : undefined);
  if (!headDim) {
    return undefined;
  }
  return {
    numLayers,
    numKeyValueHeads: positiveInt(c.num_key_value_heads) ?? numHeads,
    headDim,
    torchDtype: normalizeDtype(c.torch_dtype ?? root.torch_dtype),
    maxPositionEmbeddings: positiveInt(c.max_position_embeddings),
  };
}

/** Input of {@link estimateGpuMemory}. */
export type EstimateOptions = {
  /** Parameter count; with it, weights = parameters × bytes per dtype. */
  parameterCount?: number;
  /** The dtype the weights are served in. */
  dtype?: Dtype;
  /** Bytes of the weight files; used when the parameter count is unknown. */
  weightFileBytes?: number;
  architecture?: ModelArchitecture;
  contextLength: number;
  batchSize: number;
  runtime: Runtime;
  /** Where the parameter count came from, for the report. */
  source?: string;
};

/** A GPU memory estimate; all sizes in bytes. */
export type GpuMemoryEstimate = {
  source: string;
  parameterCount?: number;
  dtype?: Dtype;
  weightsBytes: number;
  kvCacheBytes: number;
  kvCacheBytesPerToken: number;
  contextLength: number;
  batchSize: number;
  runtime: Runtime;
  overheadFixedBytesPerGpu: number;
  overheadFraction: number;
  /** Estimated memory with one GPU. */
  totalBytes: number;
  notes: string[];
};

/**
 * Estimates the GPU memory of serving a model:
 *
 * - weights = parameters × bytes per dtype × (1 + quantization overhead),
 *   or the size of the weight files when the parameter count is unknown;
 * - KV cache = 2 × layers × KV heads × head dim × context × batch × 2 bytes
 *   (fp16 cache; 4 bytes for fp32 models);
 * - runtime overhead = fixed GiB per GPU + a fraction of (weights + KV).
 */
export function estimateGpuMemory(options: EstimateOptions): GpuMemoryEstimate {
  const notes: string[] = [];
  let weightsBytes: number;
  if (options.parameterCount && options.dtype) {
    weightsBytes =
      options.parameterCount *
      BYTES_PER_PARAMETER[options.dtype] *
      (1 + QUANTIZATION_OVERHEAD[options.dtype]);
  } else if (options.weightFileBytes) {
    weightsBytes = options.weightFileBytes;
    notes.push('weights estimated from the size of the weight files');
  } else {
    throw new InputError(
      'Cannot estimate GPU memory: the version has no parameter count and no weight files',
    );
  }

  const arch = options.architecture;
  const kvDtypeBytes = options.dtype === 'fp32' ? 4 : 2;
  let kvCacheBytesPerToken = 0;
  if (arch) {
    kvCacheBytesPerToken =
      2 * arch.numLayers * arch.numKeyValueHeads * arch.headDim * kvDtypeBytes;
    if (
      arch.maxPositionEmbeddings &&
      options.contextLength > arch.maxPositionEmbeddings
    ) {
      notes.push(
        `context length ${options.contextLength} is above the model's max_position_embeddings ${arch.maxPositionEmbeddings}`,
      );
    }
  } else {
    notes.push(
      'no config.json with the attention shape: KV cache not estimated',
    );
  }
  const kvCacheBytes =
    kvCacheBytesPerToken * options.contextLength * options.batchSize;
  const overhead = RUNTIME_OVERHEAD[options.runtime];
  const overheadFixedBytesPerGpu = overhead.fixedGiB * GIB;
  const estimate: GpuMemoryEstimate = {
    source: options.source ?? (options.parameterCount ? 'input' : 'files'),
    parameterCount: options.parameterCount,
    dtype: options.dtype,
    weightsBytes,
    kvCacheBytes,
    kvCacheBytesPerToken,
    contextLength: options.contextLength,
    batchSize: options.batchSize,
    runtime: options.runtime,
    overheadFixedBytesPerGpu,
    overheadFraction: overhead.fraction,
    totalBytes: 0,
    notes,
  };
  estimate.totalBytes = perGpuBytes(estimate, 1);
  return estimate;
}

/** Memory needed on each GPU when the model is sharded over `gpuCount` GPUs. */
export function perGpuBytes(estimate: GpuMemoryEstimate, gpuCount: number) {
  return (
    ((estimate.weightsBytes + estimate.kvCacheBytes) / gpuCount) *
      (1 + estimate.overheadFraction) +
    estimate.overheadFixedBytesPerGpu
  );
}

function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

/** A one-line description of an estimate, used in logs and errors. */
export function describeEstimate(estimate: GpuMemoryEstimate): string {
  const weights = estimate.parameterCount
    ? `${(estimate.parameterCount / 1e9).toFixed(2)}B params × ${
        BYTES_PER_PARAMETER[estimate.dtype!]
      } B (${estimate.dtype})`
    : 'weight file sizes';
  return (
    `weights ${gib(estimate.weightsBytes)} (${weights}) + KV cache ${gib(
      estimate.kvCacheBytes,
    )} (${estimate.contextLength} tokens × batch ${estimate.batchSize}) + ` +
    `${estimate.runtime} overhead ${Math.round(
      estimate.overheadFraction * 100,
    )}% + ${gib(estimate.overheadFixedBytesPerGpu)} per GPU = ${gib(
      estimate.totalBytes,
    )} on one GPU`
  );
}

/** The estimate as a JSON object for action outputs. */
export function serializeEstimate(estimate: GpuMemoryEstimate) {
  return {
    source: estimate.source,
    parameterCount: estimate.parameterCount ?? null,
    dtype: estimate.dtype ?? null,
    weightsGiB: round(estimate.weightsBytes / GIB),
    kvCacheGiB: round(estimate.kvCacheBytes / GIB),
    kvCacheBytesPerToken: estimate.kvCacheBytesPerToken,
    contextLength: estimate.contextLength,
    batchSize: estimate.batchSize,
    runtime: estimate.runtime,
    overheadFixedGiBPerGpu: round(estimate.overheadFixedBytesPerGpu / GIB),
    overheadFraction: estimate.overheadFraction,
    totalGiB: round(estimate.totalBytes / GIB),
    notes: estimate.notes,
    summary: describeEstimate(estimate),
  };
}

function round(n: number) {
  return Math.round(n * 100) / 100;
}

/** The chosen GPU profile and count. */
export type GpuPlacement = {
  profile: GpuProfile;
  gpuCount: number;
  perGpuBytes: number;
  usableBytesPerGpu: number;
};

function gpuCounts(gpusPerNode: number): number[] {
  const counts: number[] = [];
  for (let n = 1; n <= gpusPerNode; n *= 2) {
    counts.push(n);
  }
  return counts;
}

/**
 * Picks the profile and GPU count (a power of two up to `gpusPerNode`, for
 * tensor parallelism) with the least GPU memory in total that fits the
 * estimate, with `memoryUtilization` of each GPU usable. With a profile name
 * only that profile is tried. Throws an `InputError` with the estimate when
 * nothing fits.
 */
export function pickGpuPlacement(
  estimate: GpuMemoryEstimate,
  profiles: GpuProfile[],
  options: { profileName?: string; memoryUtilization: number },
): GpuPlacement {
  let candidates = profiles;
  if (options.profileName && options.profileName !== 'auto') {
    candidates = profiles.filter(p => p.name === options.profileName);
    if (candidates.length === 0) {
      throw new InputError(
        `Unknown GPU profile ${options.profileName}; configured profiles: ${
          profiles.map(p => p.name).join(', ') || 'none'
        }`,
      );
    }
  }
  let best: GpuPlacement | undefined;
  for (const profile of candidates) {
    const usable = profile.memoryGiB * GIB * options.memoryUtilization;
    for (const gpuCount of gpuCounts(profile.gpusPerNode)) {
      const need = perGpuBytes(estimate, gpuCount);
      if (need > usable) {
        continue;
      }
      const total = gpuCount * profile.memoryGiB;
      const bestTotal = best
        ? best.gpuCount * best.profile.memoryGiB
        : Infinity;
      if (
        total < bestTotal ||
        (total === bestTotal && gpuCount < best!.gpuCount)
      ) {
        best = {
          profile,
          gpuCount,
          perGpuBytes: need,
          usableBytesPerGpu: usable,
        };
      }
      break;
    }
  }
  if (!best) {
    const tried = candidates
      .map(p => `${p.name} (${p.memoryGiB} GiB × up to ${p.gpusPerNode})`)
      .join(', ');
    throw new InputError(
      `No GPU profile fits the estimate: ${describeEstimate(estimate)}. ` +
        `Tried ${
          tried || 'no profiles (modelHub.gpu.profiles is empty)'
        } with ${Math.round(
          options.memoryUtilization * 100,
        )}% of GPU memory usable. Use a smaller dtype, context length or batch size, or add a larger profile.`,
    );
  }
  return best;
}

/** Facts about weights read from a version's inspection checks. */
export type WeightFacts = { parameterCount: number; dtype?: Dtype };

function toCount(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

const SAFETENSORS_CHECK = /(^|:)format:safetensors:(.*)$/;

/**
 * Reads the parameter count and dtype from inspection checks.
 *
 * Model Hub stores one check per safetensors file, named
 * `[inspect:]format:safetensors:<path>`, with `details.parameterCount`
 * (a number, or a decimal string beyond 2^53) and `details.dtypes`
 * (parameters per dtype); the counts of all files are added up, leaving out
 * `consolidated*.safetensors` duplicates when sharded files exist. Other
 * shapes are accepted too: the Hugging Face safetensors metadata
 * (`parameters: { BF16: 8030261248 }`) and flat `parameterCount` / `dtype`
 * fields, in `details`, `result` or the check.
 */
export function weightFactsFromChecks(
  checks: unknown,
): WeightFacts | undefined {
  if (!Array.isArray(checks)) {
    return undefined;
  }
  const files = checks
    .filter(
      (c): c is { name: string; details?: Record<string, unknown> } =>
        Boolean(c) &&
        typeof c.name === 'string' &&
        SAFETENSORS_CHECK.test(c.name),
    )
    .map(c => ({
      path: SAFETENSORS_CHECK.exec(c.name)![2],
      count: toCount(c.details?.parameterCount),
      dtypes: (c.details?.dtypes ?? {}) as Record<string, unknown>,
    }))
    .filter(f => f.count > 0);
  const sharded = files.filter(f => !/(^|\/)consolidated[^/]*$/.test(f.path));
  const counted = sharded.length ? sharded : files;
  if (counted.length) {
    const dtypes: Record<string, number> = {};
    for (const f of counted) {
      for (const [k, v] of Object.entries(f.dtypes)) {
        dtypes[k] = (dtypes[k] ?? 0) + toCount(v);
      }
    }
    return {
      parameterCount: counted.reduce((a, f) => a + f.count, 0),
      dtype: dtypeOf(dtypes),
    };
  }
  for (const check of checks) {
    if (!check || typeof check !== 'object') continue;
    const c = check as Record<string, unknown>;
    for (const holder of [c.details, c.result, c.data, c]) {
      if (!holder || typeof holder !== 'object') continue;
      const h = holder as Record<string, unknown>;
      const dtype = normalizeDtype(h.dtype ?? h.torchDtype);
      const flat = toCount(
        h.parameterCount ?? h.totalParameters ?? h.numParameters ?? h.total,
      );
      if (flat) {
        return { parameterCount: flat, dtype: dtype ?? dtypeOf(h.parameters) };
      }
      if (h.parameters && typeof h.parameters === 'object') {
        const sum = Object.values(h.parameters).reduce<number>(
          (a, v) => a + toCount(v),
          0,
        );
        if (sum > 0) {
          return { parameterCount: sum, dtype: dtype ?? dtypeOf(h.parameters) };
        }
      }
      if (toCount(h.parameters)) {
        return { parameterCount: toCount(h.parameters), dtype };
      }
    }
  }
  return undefined;
}

function dtypeOf(parameters: unknown): Dtype | undefined {
  if (!parameters || typeof parameters !== 'object') return undefined;
  const entries = Object.entries(parameters)
    .map(([k, v]): [string, number] => [k, toCount(v)])
    .filter(e => e[1] > 0);
  entries.sort((a, b) => b[1] - a[1]);
  return entries.length ? normalizeDtype(entries[0][0]) : undefined;
}

/**
 * Bytes of the weights of a version: the safetensors files if there are any,
 * else PyTorch files, else the largest GGUF file (a GGUF repo holds one file
 * per quantization), else every other weight file.
 */
export function weightFileBytes(
  files: Array<{ path: string; size: number; kind?: string }>,
): number {
  const weights = files.filter(isWeightFile);
  const byExt = (re: RegExp) => weights.filter(f => re.test(f.path));
  const sum = (fs: typeof weights) => fs.reduce((a, f) => a + f.size, 0);
  const safetensors = byExt(/\.safetensors$/i);
  const sharded = safetensors.filter(
    f => !/(^|\/)consolidated[^/]*$/.test(f.path),
  );
  if (sharded.length) return sum(sharded);
  if (safetensors.length) return sum(safetensors);
  const torch = byExt(/\.(bin|pt|pth)$/i);
  if (torch.length) return sum(torch);
  const gguf = byExt(/\.gguf$/i);
  if (gguf.length) return Math.max(...gguf.map(f => f.size));
  return sum(weights);
}

/** Whether a file path looks like model weights. */
export function isWeightFile(file: { path: string; kind?: string }): boolean {
  if (file.kind) {
    return file.kind === 'weights';
  }
  return /\.(safetensors|bin|gguf|pt|pth|onnx|h5|msgpack)$/i.test(file.path);
}
