/*
 * Realistic small fixture repos, fixture tokens, and generators for many
 * repos and for big files.
 */
import { MockHub, MockHubOptions, RepoFileSpec, RepoSpec } from './hub';
import {
  bigSafetensorsContent,
  countSafetensorsParameters,
  makeSafetensors,
  TensorSpec,
} from './safetensors';

/** Tokens registered by `createFixtureHub`. */
export const FIXTURE_TOKENS = {
  /** Access to every repo, gated and private included. */
  admin: 'hf_mock_admin_token',
  /** Granted access to the gated fixture repo. */
  granted: 'hf_mock_granted_token',
  /** A valid user without any grants. */
  user: 'hf_mock_user_token',
} as const;

/** Ids of the fixture repos. */
export const FIXTURE_REPOS = {
  tinyLlm: 'acme/tiny-llm',
  diffusion: 'acme/tiny-diffusion',
  embedding: 'acme/mini-embed',
  gated: 'gated-org/gated-llm',
  privateModel: 'acme/private-model',
  edgeCases: 'acme/edge-cases',
} as const;

/** Fixed commit ids of the fixture repos' initial commits. */
export const FIXTURE_SHAS = {
  tinyLlm: '1111111111111111111111111111111111111111',
  diffusion: '2222222222222222222222222222222222222222',
  embedding: '3333333333333333333333333333333333333333',
  gated: '4444444444444444444444444444444444444444',
  privateModel: '5555555555555555555555555555555555555555',
  edgeCases: '6666666666666666666666666666666666666666',
} as const;

/** The .gitattributes HF creates in new repos (abridged). */
export const HF_GITATTRIBUTES = [
  '*.7z filter=lfs diff=lfs merge=lfs -text',
  '*.bin filter=lfs diff=lfs merge=lfs -text',
  '*.ckpt filter=lfs diff=lfs merge=lfs -text',
  '*.gguf filter=lfs diff=lfs merge=lfs -text',
  '*.h5 filter=lfs diff=lfs merge=lfs -text',
  '*.msgpack filter=lfs diff=lfs merge=lfs -text',
  '*.onnx filter=lfs diff=lfs merge=lfs -text',
  '*.pt filter=lfs diff=lfs merge=lfs -text',
  '*.pth filter=lfs diff=lfs merge=lfs -text',
  '*.safetensors filter=lfs diff=lfs merge=lfs -text',
  '*.tflite filter=lfs diff=lfs merge=lfs -text',
  '*.zip filter=lfs diff=lfs merge=lfs -text',
  '*tfevents* filter=lfs diff=lfs merge=lfs -text',
  '',
].join('\n');

function json(path: string, data: unknown): RepoFileSpec {
  return { path, content: `${JSON.stringify(data, null, 2)}\n` };
}

function tokenizerJson(vocabSize: number) {
  const vocab: Record<string, number> = {
    '<unk>': 0,
    '<s>': 1,
    '</s>': 2,
  };
  for (let i = 3; i < vocabSize; i++) {
    vocab[`tok${i}`] = i;
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁' },
    model: { type: 'BPE', vocab, merges: [] },
  };
}

const TINY_LLM_TENSORS: Record<string, TensorSpec> = {
  'model.embed_tokens.weight': { dtype: 'F32', shape: [64, 16] },
  'model.layers.0.self_attn.q_proj.weight': { dtype: 'F32', shape: [16, 16] },
  'model.layers.0.self_attn.k_proj.weight': { dtype: 'F32', shape: [16, 16] },
  'model.layers.0.self_attn.v_proj.weight': { dtype: 'F32', shape: [16, 16] },
  'model.layers.0.self_attn.o_proj.weight': { dtype: 'F32', shape: [16, 16] },
  'model.layers.0.mlp.up_proj.weight': { dtype: 'F32', shape: [32, 16] },
  'model.layers.0.mlp.down_proj.weight': { dtype: 'F32', shape: [16, 32] },
  'model.norm.weight': { dtype: 'F32', shape: [16] },
  'lm_head.weight': { dtype: 'F32', shape: [64, 16] },
};

const EMBED_TENSORS: Record<string, TensorSpec> = {
  'embeddings.word_embeddings.weight': { dtype: 'F32', shape: [64, 8] },
  'embeddings.position_embeddings.weight': { dtype: 'F32', shape: [32, 8] },
  'encoder.layer.0.attention.self.query.weight': {
    dtype: 'F32',
    shape: [8, 8],
  },
  'encoder.layer.0.attention.self.key.weight': { dtype: 'F32', shape: [8, 8] },
  'encoder.layer.0.attention.self.value.weight': {
    dtype: 'F32',
    shape: [8, 8],
  },
  'pooler.dense.weight': { dtype: 'F32', shape: [8, 8] },
};

/** A tiny Llama-style text-generation model. */
export function tinyLlmRepo(): RepoSpec {
  return {
    id: FIXTURE_REPOS.tinyLlm,
    revisions: { main: FIXTURE_SHAS.tinyLlm },
    gitTags: ['v1.0'],
    cardData: {
      license: 'apache-2.0',
      language: ['en'],
      library_name: 'transformers',
      pipeline_tag: 'text-generation',
      base_model: 'acme/tiny-llm-base',
      datasets: ['acme/tiny-corpus', 'wikitext'],
      tags: ['llama', 'tiny', 'mock'],
    },
    readme:
      '# tiny-llm\n\nA 20k-parameter Llama-style model for tests.\n\n## Usage\n\n```python\nfrom transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained("acme/tiny-llm")\n```\n',
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 16,
      intermediate_size: 32,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      num_key_value_heads: 2,
      vocab_size: 64,
      max_position_embeddings: 128,
      torch_dtype: 'float32',
      transformers_version: '4.46.0',
      bos_token_id: 1,
      eos_token_id: 2,
    },
    safetensors: countSafetensorsParameters(TINY_LLM_TENSORS),
    files: [
      { path: '.gitattributes', content: HF_GITATTRIBUTES },
      json('generation_config.json', {
        bos_token_id: 1,
        eos_token_id: 2,
        max_new_tokens: 32,
      }),
      json('tokenizer.json', tokenizerJson(64)),
      json('tokenizer_config.json', {
        bos_token: '<s>',
        eos_token: '</s>',
        unk_token: '<unk>',
        model_max_length: 128,
        tokenizer_class: 'LlamaTokenizerFast',
        chat_template:
          "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
      }),
      json('special_tokens_map.json', {
        bos_token: '<s>',
        eos_token: '</s>',
        unk_token: '<unk>',
      }),
      {
        path: 'model.safetensors',
        content: makeSafetensors({
          tensors: TINY_LLM_TENSORS,
          metadata: { format: 'pt' },
          seed: 'tiny-llm',
        }),
      },
      {
        path: 'onnx/model.onnx',
        content: { size: 96 * 1024, seed: 'tiny-llm-onnx' },
      },
      {
        path: 'onnx/model_quantized.onnx',
        content: { size: 32 * 1024, seed: 'tiny-llm-onnx-q' },
      },
    ],
  };
}

/** A tiny diffusers text-to-image pipeline with sub-model folders. */
export function diffusionRepo(): RepoSpec {
  const small = (path: string, seed: string): RepoFileSpec => ({
    path,
    content: makeSafetensors({
      tensors: { weight: { dtype: 'F16', shape: [32, 32] } },
      metadata: { format: 'pt' },
      seed,
    }),
  });
  return {
    id: FIXTURE_REPOS.diffusion,
    revisions: { main: FIXTURE_SHAS.diffusion },
    cardData: {
      license: 'openrail++',
      library_name: 'diffusers',
      pipeline_tag: 'text-to-image',
      tags: ['stable-diffusion', 'mock'],
      base_model: 'acme/tiny-diffusion-base',
    },
    modelIndex: {
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.31.0',
      feature_extractor: [null, null],
      safety_checker: [null, null],
      scheduler: ['diffusers', 'PNDMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    },
    files: [
      { path: '.gitattributes', content: HF_GITATTRIBUTES },
      json('scheduler/scheduler_config.json', {
        _class_name: 'PNDMScheduler',
        beta_start: 0.00085,
        beta_end: 0.012,
        num_train_timesteps: 1000,
      }),
      json('text_encoder/config.json', {
        architectures: ['CLIPTextModel'],
        model_type: 'clip_text_model',
        hidden_size: 32,
      }),
      small('text_encoder/model.safetensors', 'diff-te'),
      json('tokenizer/tokenizer_config.json', {
        model_max_length: 77,
        tokenizer_class: 'CLIPTokenizer',
      }),
      json('tokenizer/vocab.json', {
        '<|startoftext|>': 0,
        '<|endoftext|>': 1,
        a: 2,
      }),
      { path: 'tokenizer/merges.txt', content: '#version: 0.2\na b\n' },
      json('tokenizer/special_tokens_map.json', {
        bos_token: '<|startoftext|>',
        eos_token: '<|endoftext|>',
      }),
      json('unet/config.json', {
        _class_name: 'UNet2DConditionModel',
        sample_size: 8,
        in_channels: 4,
        out_channels: 4,
      }),
      small('unet/diffusion_pytorch_model.safetensors', 'diff-unet'),
      json('vae/config.json', {
        _class_name: 'AutoencoderKL',
        latent_channels: 4,
      }),
      small('vae/diffusion_pytorch_model.safetensors', 'diff-vae'),
    ],
  };
}

/** A tiny sentence-transformers embedding model. */
export function embeddingRepo(): RepoSpec {
  return {
    id: FIXTURE_REPOS.embedding,
    revisions: { main: FIXTURE_SHAS.embedding },
    cardData: {
      license: 'mit',
      language: ['en'],
      library_name: 'sentence-transformers',
      pipeline_tag: 'sentence-similarity',
      tags: ['sentence-transformers', 'feature-extraction', 'mock'],
      datasets: ['acme/pairs'],
      base_model: 'acme/mini-bert',
    },
    config: {
      architectures: ['BertModel'],
      model_type: 'bert',
      hidden_size: 8,
      num_attention_heads: 1,
      num_hidden_layers: 1,
      vocab_size: 64,
    },
    safetensors: countSafetensorsParameters(EMBED_TENSORS),
    files: [
      { path: '.gitattributes', content: HF_GITATTRIBUTES },
      json('modules.json', [
        {
          idx: 0,
          name: '0',
          path: '',
          type: 'sentence_transformers.models.Transformer',
        },
        {
          idx: 1,
          name: '1',
          path: '1_Pooling',
          type: 'sentence_transformers.models.Pooling',
        },
      ]),
      json('sentence_bert_config.json', {
        max_seq_length: 32,
        do_lower_case: false,
      }),
      json('config_sentence_transformers.json', {
        __version__: { sentence_transformers: '3.2.0' },
        similarity_fn_name: 'cosine',
      }),
      json('1_Pooling/config.json', {
        word_embedding_dimension: 8,
        pooling_mode_mean_tokens: true,
      }),
      json('tokenizer.json', tokenizerJson(64)),
      json('tokenizer_config.json', {
        model_max_length: 32,
        tokenizer_class: 'BertTokenizer',
      }),
      {
        path: 'vocab.txt',
        content: Array.from({ length: 64 }, (_, i) => `w${i}`).join('\n'),
      },
      {
        path: 'model.safetensors',
        content: makeSafetensors({
          tensors: EMBED_TENSORS,
          seed: 'mini-embed',
        }),
      },
      {
        path: 'onnx/model.onnx',
        content: { size: 48 * 1024, seed: 'mini-embed-onnx' },
      },
    ],
  };
}

/** A gated (manual approval) model; see FIXTURE_TOKENS.granted. */
export function gatedRepo(): RepoSpec {
  return {
    id: FIXTURE_REPOS.gated,
    revisions: { main: FIXTURE_SHAS.gated },
    gated: 'manual',
    cardData: {
      license: 'other',
      license_name: 'gated-llm-community-license',
      library_name: 'transformers',
      pipeline_tag: 'text-generation',
      extra_gated_prompt: 'You agree to the Gated LLM Community License.',
      extra_gated_fields: { Company: 'text', Country: 'country' },
      tags: ['mock'],
    },
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 16,
    },
    files: [
      { path: '.gitattributes', content: HF_GITATTRIBUTES },
      { path: 'LICENSE', content: 'Gated LLM Community License (mock)\n' },
      {
        path: 'model.safetensors',
        content: makeSafetensors({
          tensors: { 'lm_head.weight': { dtype: 'BF16', shape: [64, 16] } },
          seed: 'gated',
        }),
      },
    ],
  };
}

/** A private model, visible only to FIXTURE_TOKENS.admin. */
export function privateRepo(): RepoSpec {
  return {
    id: FIXTURE_REPOS.privateModel,
    revisions: { main: FIXTURE_SHAS.privateModel },
    private: true,
    cardData: {
      license: 'apache-2.0',
      pipeline_tag: 'text-classification',
      library_name: 'transformers',
    },
    config: {
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
    },
    files: [
      {
        path: 'model.safetensors',
        content: makeSafetensors({
          tensors: { w: { dtype: 'F32', shape: [4, 4] } },
        }),
      },
    ],
  };
}

/** Edge cases: an empty file, odd names, deep folders, a sharded checkpoint. */
export function edgeCasesRepo(): RepoSpec {
  const shard1: Record<string, TensorSpec> = {
    'a.weight': { dtype: 'F32', shape: [8, 8] },
  };
  const shard2: Record<string, TensorSpec> = {
    'b.weight': { dtype: 'F16', shape: [8] },
  };
  const all = { ...shard1, ...shard2 };
  const weightMap: Record<string, string> = {};
  for (const name of Object.keys(shard1))
    weightMap[name] = 'model-00001-of-00002.safetensors';
  for (const name of Object.keys(shard2))
    weightMap[name] = 'model-00002-of-00002.safetensors';
  return {
    id: FIXTURE_REPOS.edgeCases,
    revisions: { main: FIXTURE_SHAS.edgeCases },
    cardData: { license: 'cc-by-4.0', tags: ['mock', 'edge-cases'] },
    safetensors: countSafetensorsParameters(all),
    files: [
      { path: 'empty.txt', content: '' },
      { path: 'one-byte.bin', content: 'x', lfs: false },
      { path: 'dir with space/file name.txt', content: 'spaces\n' },
      { path: 'unicodé/naïve.json', content: '{"ok":true}\n' },
      { path: 'a/b/c/d/e/deep.txt', content: 'deep\n' },
      json('model.safetensors.index.json', {
        metadata: { total_size: 8 * 8 * 4 + 8 * 2 },
        weight_map: weightMap,
      }),
      {
        path: 'model-00001-of-00002.safetensors',
        content: makeSafetensors({ tensors: shard1, seed: 's1' }),
      },
      {
        path: 'model-00002-of-00002.safetensors',
        content: makeSafetensors({ tensors: shard2, seed: 's2' }),
      },
    ],
  };
}

/** All fixture repo specs. */
export function fixtureRepos(): RepoSpec[] {
  return [
    tinyLlmRepo(),
    diffusionRepo(),
    embeddingRepo(),
    gatedRepo(),
    privateRepo(),
    edgeCasesRepo(),
  ];
}

const PIPELINES = [
  ['text-generation', 'transformers'],
  ['text-classification', 'transformers'],
  ['sentence-similarity', 'sentence-transformers'],
  ['text-to-image', 'diffusers'],
  ['automatic-speech-recognition', 'transformers'],
  ['image-classification', 'timm'],
] as const;
const LICENSES = [
  'apache-2.0',
  'mit',
  'cc-by-4.0',
  'openrail',
  'llama3',
  'other',
];

export interface GenerateReposOptions {
  /** Org of the generated repos (default `bulk`). */
  org?: string;
  /** Id prefix of the generated repo names (default `model`). */
  prefix?: string;
  /** Size of each repo's generated weights file in bytes (default 4096). */
  weightsSize?: number;
  /** Every n-th repo is gated (default 0: none). */
  gatedEvery?: number;
}

/** Generates `count` small, varied, deterministic repos (e.g. for a 1,000-repo sync benchmark). */
export function generateRepos(
  count: number,
  options: GenerateReposOptions = {},
): RepoSpec[] {
  const org = options.org ?? 'bulk';
  const prefix = options.prefix ?? 'model';
  const width = Math.max(4, String(count).length);
  const specs: RepoSpec[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(width, '0');
    const [pipeline, library] = PIPELINES[i % PIPELINES.length];
    const id = `${org}/${prefix}-${n}`;
    specs.push({
      id,
      gated:
        options.gatedEvery && i % options.gatedEvery === 0 ? 'auto' : false,
      cardData: {
        license: LICENSES[i % LICENSES.length],
        library_name: library,
        pipeline_tag: pipeline,
        tags: ['generated', `group-${i % 10}`],
        ...(i % 3 === 0 && { datasets: [`${org}/dataset-${i % 7}`] }),
        ...(i > 0 &&
          i % 4 === 0 && {
            base_model: `${org}/${prefix}-${String(0).padStart(width, '0')}`,
          }),
      },
      config: { architectures: ['MockModel'], model_type: 'mock', index: i },
      files: [
        { path: '.gitattributes', content: HF_GITATTRIBUTES },
        json('tokenizer_config.json', { model_max_length: 512, index: i }),
        {
          path: 'model.safetensors',
          content: bigSafetensorsContent(
            Math.max(256, options.weightsSize ?? 4096),
            `${id}/weights`,
          ),
        },
      ],
    });
  }
  return specs;
}

/** A repo with one big generated safetensors file (never held in memory). */
export function bigFileRepo(
  sizeBytes: number,
  id = 'acme/big-model',
): RepoSpec {
  return {
    id,
    cardData: {
      license: 'apache-2.0',
      library_name: 'transformers',
      pipeline_tag: 'text-generation',
      tags: ['mock', 'big-file'],
    },
    config: { architectures: ['MockModel'], model_type: 'mock' },
    files: [
      { path: '.gitattributes', content: HF_GITATTRIBUTES },
      {
        path: 'model.safetensors',
        content: bigSafetensorsContent(sizeBytes, `${id}/big`),
      },
    ],
  };
}

export interface FixtureHubOptions extends MockHubOptions {
  /** Also add `generateRepos(n)`. */
  generatedRepos?: number;
  /** Also add `bigFileRepo(size)` with this many bytes. */
  bigFileBytes?: number;
  /** Extra tokens (token → access). */
  extraTokens?: Record<string, '*' | string[]>;
}

/** A MockHub with the fixture repos and FIXTURE_TOKENS. */
export function createFixtureHub(options: FixtureHubOptions = {}): MockHub {
  const hub = new MockHub(options);
  hub.addRepos(fixtureRepos());
  // drift history for the tiny LLM: a second commit on main
  hub.commit(FIXTURE_REPOS.tinyLlm, {
    title: 'Update generation config',
    files: [
      json('generation_config.json', {
        bos_token_id: 1,
        eos_token_id: 2,
        max_new_tokens: 64,
      }),
    ],
  });
  hub.addToken(FIXTURE_TOKENS.admin, { user: 'mock-admin', access: '*' });
  hub.addToken(FIXTURE_TOKENS.granted, {
    user: 'mock-granted',
    access: [FIXTURE_REPOS.gated],
  });
  hub.addToken(FIXTURE_TOKENS.user, { user: 'mock-user', access: [] });
  for (const [token, access] of Object.entries(options.extraTokens ?? {})) {
    hub.addToken(token, { user: 'mock-extra', access });
  }
  if (options.generatedRepos) {
    hub.addRepos(generateRepos(options.generatedRepos));
  }
  if (options.bigFileBytes) {
    hub.addRepo(bigFileRepo(options.bigFileBytes));
  }
  return hub;
}
