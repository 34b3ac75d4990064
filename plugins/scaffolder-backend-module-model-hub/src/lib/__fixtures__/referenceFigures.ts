import { Dtype } from '../estimateGpuMemory';

/**
 * Published weight-memory figures of well-known open models, in GB (10^9
 * bytes), for the memory loaded by the weights alone (no KV cache, no
 * runtime overhead). `docs/gpu-memory-estimates.md` lists the same table.
 */
export type ReferenceFigure = {
  model: string;
  /** Parameter count used by the estimate. */
  parameterCount: number;
  parameterSource: string;
  dtype: Dtype;
  referenceGB: number;
  source: string;
};

const LLAMA31_BLOG =
  'Hugging Face blog "Llama 3.1 - 405B, 70B & 8B with multilinguality and long context", table "Inference Memory Requirements" (https://huggingface.co/blog/llama31)';
const LLAMA7B_FORUM =
  'Hugging Face forum "LLaMA 7B GPU memory requirement" (https://discuss.huggingface.co/t/llama-7b-gpu-memory-requirement/34323)';
const BLOOM_8BIT_CARD =
  'Model card of joaoalvarenga/bloom-8bit: "The original version takes ~353GB memory, this version takes ~180GB" (https://huggingface.co/joaoalvarenga/bloom-8bit)';

export const referenceFigures: ReferenceFigure[] = [
  // Llama 3.1 8B: 8.03B parameters (meta-llama/Llama-3.1-8B model card / safetensors metadata)
  ...(
    [
      ['bf16', 16],
      ['fp8', 8],
      ['int4', 4],
    ] as const
  ).map(([dtype, referenceGB]) => ({
    model: 'Llama 3.1 8B',
    parameterCount: 8.03e9,
    parameterSource: 'meta-llama/Llama-3.1-8B model card: 8.03B params',
    dtype,
    referenceGB,
    source: LLAMA31_BLOG,
  })),
  // Llama 3.1 70B: 70.6B parameters
  ...(
    [
      ['bf16', 140],
      ['fp8', 70],
      ['int4', 35],
    ] as const
  ).map(([dtype, referenceGB]) => ({
    model: 'Llama 3.1 70B',
    parameterCount: 70.6e9,
    parameterSource: 'meta-llama/Llama-3.1-70B model card: 70.6B params',
    dtype,
    referenceGB,
    source: LLAMA31_BLOG,
  })),
  // Llama 3.1 405B: 405.9B parameters
  ...(
    [
      ['bf16', 810],
      ['fp8', 405],
      ['int4', 203],
    ] as const
  ).map(([dtype, referenceGB]) => ({
    model: 'Llama 3.1 405B',
    parameterCount: 405.9e9,
    parameterSource:
      'meta-llama/Llama-3.1-405B model card: 406B params (405.9B)',
    dtype,
    referenceGB,
    source: LLAMA31_BLOG,
  })),
  // LLaMA 7B: 6.74B parameters
  ...(
    [
      ['fp32', 28],
      ['fp16', 14],
      ['int4', 3.5],
    ] as const
  ).map(([dtype, referenceGB]) => ({
    model: 'LLaMA 7B',
    parameterCount: 6.74e9,
    parameterSource:
      'LLaMA paper (arXiv:2302.13971), "7B"; huggyllama/llama-7b: 6.74B params',
    dtype,
    referenceGB,
    source: LLAMA7B_FORUM,
  })),
  // BLOOM 176B: 176,247,271,424 parameters
  ...(
    [
      ['bf16', 353],
      ['int8', 180],
    ] as const
  ).map(([dtype, referenceGB]) => ({
    model: 'BLOOM 176B',
    parameterCount: 176_247_271_424,
    parameterSource: 'bigscience/bloom model card: 176,247,271,424 parameters',
    dtype,
    referenceGB,
    source: BLOOM_8BIT_CARD,
  })),
  {
    model: 'Mixtral 8x7B',
    parameterCount: 46.7e9,
    parameterSource:
      'Mistral AI "Mixtral of experts" announcement: 46.7B total parameters',
    dtype: 'fp16',
    referenceGB: 90,
    source:
      'Hugging Face blog "Welcome Mixtral": "Mixtral requires 90GB of VRAM in half-precision" (https://huggingface.co/blog/mixtral)',
  },
  {
    model: 'Phi-3-mini',
    parameterCount: 3.82e9,
    parameterSource:
      'microsoft/Phi-3-mini-4k-instruct: 3.82B params (3.8B in the technical report)',
    dtype: 'int4',
    referenceGB: 1.8,
    source:
      'Phi-3 Technical Report (arXiv:2404.14219): "phi-3-mini can be quantized to 4-bits so that it only occupies ≈ 1.8GB of memory"',
  },
];
