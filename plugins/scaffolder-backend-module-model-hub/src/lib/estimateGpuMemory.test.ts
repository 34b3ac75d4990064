import { InputError } from '@backstage/errors';
import { GpuProfile } from './config';
import {
  describeEstimate,
  estimateGpuMemory,
  normalizeDtype,
  perGpuBytes,
  pickGpuPlacement,
  readArchitecture,
  weightFactsFromChecks,
  weightFileBytes,
} from './estimateGpuMemory';
import { referenceFigures } from './__fixtures__/referenceFigures';

const GIB = 1024 ** 3;

const llama31_8b = {
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  hidden_size: 4096,
  max_position_embeddings: 131072,
  torch_dtype: 'bfloat16',
};
const llama31_70b = {
  num_hidden_layers: 80,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  hidden_size: 8192,
  torch_dtype: 'bfloat16',
};

function profile(name: string, memoryGiB: number, gpusPerNode = 1): GpuProfile {
  return { name, memoryGiB, gpusPerNode, nodeSelector: {}, tolerations: [] };
}

describe('estimateGpuMemory', () => {
  describe('weights against published reference figures (±10%)', () => {
    it.each(referenceFigures.map(r => [`${r.model} ${r.dtype}`, r] as const))(
      '%s',
      (_name, ref) => {
        const estimate = estimateGpuMemory({
          parameterCount: ref.parameterCount,
          dtype: ref.dtype,
          contextLength: 1,
          batchSize: 1,
          runtime: 'vllm',
        });
        const gb = estimate.weightsBytes / 1e9;
        const error = (gb - ref.referenceGB) / ref.referenceGB;
        expect(Math.abs(error)).toBeLessThanOrEqual(0.1);
      },
    );

    it('covers at least five models and fp16/bf16, int8 and int4', () => {
      expect(
        new Set(referenceFigures.map(r => r.model)).size,
      ).toBeGreaterThanOrEqual(5);
      const dtypes = new Set(referenceFigures.map(r => r.dtype));
      expect(dtypes.has('int8')).toBe(true);
      expect(dtypes.has('int4')).toBe(true);
      expect(dtypes.has('fp16') || dtypes.has('bf16')).toBe(true);
      for (const r of referenceFigures) {
        expect(r.source).toMatch(/https?:\/\/|arXiv/);
      }
    });
  });

  it('computes the KV cache of Llama 3.1 8B and 70B at 128k tokens in fp16', () => {
    // 2 × layers × 8 KV heads × 128 head dim × 2 bytes × 128,000 tokens,
    // in GiB; see docs/gpu-memory-estimates.md for the cross-check.
    const kv = (config: object) =>
      estimateGpuMemory({
        parameterCount: 1e9,
        dtype: 'bf16',
        architecture: readArchitecture(config),
        contextLength: 128_000,
        batchSize: 1,
        runtime: 'vllm',
      }).kvCacheBytes / GIB;
    expect(kv(llama31_8b)).toBeCloseTo(15.62, 1);
    expect(kv(llama31_70b)).toBeCloseTo(39.06, 1);
  });

  it('scales the KV cache with the batch size and adds the runtime overhead', () => {
    const estimate = estimateGpuMemory({
      parameterCount: 8.03e9,
      dtype: 'bf16',
      architecture: readArchitecture(llama31_8b),
      contextLength: 8192,
      batchSize: 4,
      runtime: 'vllm',
    });
    expect(estimate.kvCacheBytesPerToken).toBe(131072);
    expect(estimate.kvCacheBytes).toBe(131072 * 8192 * 4);
    expect(estimate.totalBytes).toBeCloseTo(
      (8.03e9 * 2 + 131072 * 8192 * 4) * 1.1 + 1.5 * GIB,
      0,
    );
    expect(perGpuBytes(estimate, 2)).toBeCloseTo(
      ((8.03e9 * 2 + 131072 * 8192 * 4) / 2) * 1.1 + 1.5 * GIB,
      0,
    );
    expect(describeEstimate(estimate)).toContain('8.03B params × 2 B (bf16)');
  });

  it('falls back to weight file sizes and notes a missing config.json', () => {
    const estimate = estimateGpuMemory({
      weightFileBytes: 5e9,
      contextLength: 4096,
      batchSize: 1,
      runtime: 'tgi',
    });
    expect(estimate.weightsBytes).toBe(5e9);
    expect(estimate.kvCacheBytes).toBe(0);
    expect(estimate.notes).toEqual([
      'weights estimated from the size of the weight files',
      'no config.json with the attention shape: KV cache not estimated',
    ]);
  });

  it('throws without a parameter count or weight files', () => {
    expect(() =>
      estimateGpuMemory({ contextLength: 1, batchSize: 1, runtime: 'vllm' }),
    ).toThrow(InputError);
  });
});

describe('readArchitecture', () => {
  it('reads head_dim, defaults KV heads to attention heads, and text_config', () => {
    expect(readArchitecture(llama31_8b)).toEqual({
      numLayers: 32,
      numKeyValueHeads: 8,
      headDim: 128,
      torchDtype: 'bf16',
      maxPositionEmbeddings: 131072,
    });
    expect(
      readArchitecture({
        num_hidden_layers: 12,
        num_attention_heads: 12,
        hidden_size: 768,
      }),
    ).toEqual({
      numLayers: 12,
      numKeyValueHeads: 12,
      headDim: 64,
      torchDtype: undefined,
      maxPositionEmbeddings: undefined,
    });
    expect(
      readArchitecture({
        torch_dtype: 'float16',
        text_config: {
          num_hidden_layers: 2,
          num_attention_heads: 4,
          head_dim: 256,
        },
      }),
    ).toMatchObject({ numLayers: 2, headDim: 256, torchDtype: 'fp16' });
    expect(readArchitecture({ model_type: 'whisper' })).toBeUndefined();
    expect(readArchitecture(null)).toBeUndefined();
  });
});

describe('weightFactsFromChecks', () => {
  it('reads safetensors metadata and flat fields', () => {
    expect(
      weightFactsFromChecks([
        { name: 'license', details: {} },
        { name: 'safetensors', details: { parameters: { BF16: 8030261248 } } },
      ]),
    ).toEqual({ parameterCount: 8030261248, dtype: 'bf16' });
    expect(
      weightFactsFromChecks([
        { result: { parameterCount: 7e9, dtype: 'float16' } },
      ]),
    ).toEqual({ parameterCount: 7e9, dtype: 'fp16' });
    expect(weightFactsFromChecks(undefined)).toBeUndefined();
    expect(weightFactsFromChecks([{ name: 'x' }])).toBeUndefined();
  });

  it('adds up the per-file safetensors checks of Model Hub', () => {
    expect(
      weightFactsFromChecks([
        {
          name: 'inspect:format:safetensors:model-00001-of-00002.safetensors',
          status: 'pass',
          details: { parameterCount: 5e9, dtypes: { BF16: 5e9 } },
        },
        {
          name: 'inspect:format:safetensors:model-00002-of-00002.safetensors',
          status: 'pass',
          details: {
            parameterCount: '3030261248',
            dtypes: { BF16: '3030261248' },
          },
        },
        {
          name: 'inspect:format:safetensors:consolidated.safetensors',
          status: 'pass',
          details: { parameterCount: 8030261248, dtypes: { BF16: 8030261248 } },
        },
        {
          name: 'safety:pickle:pytorch_model.bin',
          status: 'pass',
          details: {},
        },
      ]),
    ).toEqual({ parameterCount: 8030261248, dtype: 'bf16' });
    expect(
      weightFactsFromChecks([
        {
          name: 'format:safetensors:consolidated.safetensors',
          details: { parameterCount: 7e9, dtypes: { F16: 7e9, F32: 1000 } },
        },
      ]),
    ).toEqual({ parameterCount: 7e9, dtype: 'fp16' });
  });

  it('normalizes dtype names', () => {
    expect(normalizeDtype('torch.bfloat16')).toBe('bf16');
    expect(normalizeDtype('F8_E4M3')).toBe('fp8');
    expect(normalizeDtype('I8')).toBe('int8');
    expect(normalizeDtype('Q4_K_M')).toBe('int4');
    expect(normalizeDtype('U8')).toBeUndefined();
  });
});

describe('weightFileBytes', () => {
  it('prefers safetensors, then PyTorch files, then the largest GGUF', () => {
    expect(
      weightFileBytes([
        { path: 'model-00001-of-00002.safetensors', size: 5 },
        { path: 'model-00002-of-00002.safetensors', size: 3 },
        { path: 'consolidated.safetensors', size: 8 },
        { path: 'pytorch_model.bin', size: 8 },
        { path: 'config.json', size: 1 },
      ]),
    ).toBe(8);
    expect(weightFileBytes([{ path: 'pytorch_model.bin', size: 8 }])).toBe(8);
    expect(
      weightFileBytes([
        { path: 'm.Q4_K_M.gguf', size: 4 },
        { path: 'm.Q8_0.gguf', size: 8 },
      ]),
    ).toBe(8);
    expect(
      weightFileBytes([{ path: 'README.md', size: 3, kind: 'docs' }]),
    ).toBe(0);
  });
});

describe('pickGpuPlacement', () => {
  const profiles = [
    profile('l4-24gb', 24, 4),
    profile('a100-80gb', 80, 8),
    profile('h100-80gb', 80, 8),
  ];
  const estimate = (params: number) =>
    estimateGpuMemory({
      parameterCount: params,
      dtype: 'bf16',
      architecture: readArchitecture(llama31_8b),
      contextLength: 8192,
      batchSize: 1,
      runtime: 'vllm',
    });

  it('picks the least total GPU memory that fits', () => {
    // 8B bf16 with 8k context: 19.1 GiB, fits one L4 (21.6 GiB usable)
    expect(
      pickGpuPlacement(estimate(8.03e9), profiles, { memoryUtilization: 0.9 }),
    ).toMatchObject({ profile: { name: 'l4-24gb' }, gpuCount: 1 });
    // 13B: two L4s (48 GiB) beat one A100 (80 GiB)
    expect(
      pickGpuPlacement(estimate(13e9), profiles, { memoryUtilization: 0.9 }),
    ).toMatchObject({ profile: { name: 'l4-24gb' }, gpuCount: 2 });
    // 34B: 65.6 GiB on one GPU; one A100 (80 GiB) beats four L4s (96 GiB)
    expect(
      pickGpuPlacement(estimate(30e9), profiles, { memoryUtilization: 0.9 }),
    ).toMatchObject({ profile: { name: 'a100-80gb' }, gpuCount: 1 });
    expect(
      pickGpuPlacement(estimate(70.6e9), profiles, { memoryUtilization: 0.9 }),
    ).toMatchObject({ profile: { name: 'a100-80gb' }, gpuCount: 4 });
  });

  it('honours a named profile and shards over its GPUs', () => {
    expect(
      pickGpuPlacement(estimate(13e9), profiles, {
        profileName: 'h100-80gb',
        memoryUtilization: 0.9,
      }),
    ).toMatchObject({ profile: { name: 'h100-80gb' }, gpuCount: 1 });
    expect(
      pickGpuPlacement(estimate(30e9), profiles, {
        profileName: 'l4-24gb',
        memoryUtilization: 0.9,
      }),
    ).toMatchObject({ profile: { name: 'l4-24gb' }, gpuCount: 4 });
  });

  it('fails with the estimate when nothing fits', () => {
    expect(() =>
      pickGpuPlacement(estimate(405.9e9), profiles, { memoryUtilization: 0.9 }),
    ).toThrow(
      /No GPU profile fits the estimate: weights 756\.0 GiB \(405\.90B params × 2 B \(bf16\)\).*Tried l4-24gb \(24 GiB × up to 4\), a100-80gb/,
    );
    expect(() =>
      pickGpuPlacement(estimate(8e9), [], { memoryUtilization: 0.9 }),
    ).toThrow(/modelHub\.gpu\.profiles is empty/);
    expect(() =>
      pickGpuPlacement(estimate(8e9), profiles, {
        profileName: 'tpu',
        memoryUtilization: 0.9,
      }),
    ).toThrow(
      'Unknown GPU profile tpu; configured profiles: l4-24gb, a100-80gb, h100-80gb',
    );
  });
});
