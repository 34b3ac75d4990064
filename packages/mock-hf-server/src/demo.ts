/*
 * The curated repos of the offline demo portal (`npm run demo`): a few small
 * repos that show what the import page handles, and no more.
 */
import { createFixtureHub, FIXTURE_REPOS } from './fixtures';
import { MockHub, MockHubOptions } from './hub';
import { makeSafetensors } from './safetensors';

/** Ids of the demo repos beyond the fixture repos. */
export const DEMO_REPOS = {
  /** One generated `model.safetensors` of `DEMO_BIG_FILE_BYTES`. */
  bigFile: 'acme/big-model',
} as const;

/** Size of the demo's large file: large enough to watch, small on disk. */
export const DEMO_BIG_FILE_BYTES = 64 * 1024 * 1024;

export interface DemoHubOptions extends MockHubOptions {
  /** Size of `acme/big-model`'s weights (default `DEMO_BIG_FILE_BYTES`). */
  bigFileBytes?: number;
}

/**
 * A MockHub with the demo's repos:
 *
 * - `acme/tiny-llm` with several revisions: tag `v1.0` (first commit),
 *   `main` two commits ahead (a generation config change, then new weights)
 *   and a `dev` branch one commit beyond `main`;
 * - `gated-org/gated-llm`, gated (manual): files need a granted token
 *   (`FIXTURE_TOKENS.granted` or `.admin`);
 * - `acme/big-model`, one generated safetensors file of 64 MiB (generated
 *   on the fly, never on disk on the Hub side);
 * - `acme/mini-embed`, `acme/tiny-diffusion`, and the private and edge-case
 *   fixture repos.
 *
 * Everything is generated in memory from seeds, so every start serves the
 * same bytes and commit ids.
 */
export function createDemoHub(options: DemoHubOptions = {}): MockHub {
  const hub = createFixtureHub({
    ...options,
    bigFileBytes: options.bigFileBytes ?? DEMO_BIG_FILE_BYTES,
  });
  // a third revision on main: retrained weights
  hub.commit(FIXTURE_REPOS.tinyLlm, {
    title: 'Retrained weights (loss 1.92 → 1.71)',
    files: [
      {
        path: 'model.safetensors',
        content: makeSafetensors({
          tensors: {
            'model.embed_tokens.weight': { dtype: 'F32', shape: [64, 16] },
            'model.norm.weight': { dtype: 'F32', shape: [16] },
            'lm_head.weight': { dtype: 'F32', shape: [64, 16] },
          },
          metadata: { format: 'pt' },
          seed: 'tiny-llm-retrained',
        }),
      },
    ],
  });
  // work in progress on a branch
  hub.commit(FIXTURE_REPOS.tinyLlm, {
    branch: 'dev',
    from: 'main',
    title: 'Longer context (work in progress)',
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 16,
      intermediate_size: 32,
      num_attention_heads: 2,
      num_hidden_layers: 1,
      num_key_value_heads: 2,
      vocab_size: 64,
      max_position_embeddings: 512,
      torch_dtype: 'float32',
    },
  });
  return hub;
}
