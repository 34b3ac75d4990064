import http from 'node:http';
import { AddressInfo } from 'node:net';
import { GpuConfig } from '../../lib/config';
import {
  HubCheck,
  HubFile,
  HubVersion,
  ModelHubClient,
} from '../../lib/ModelHubClient';

export const LLAMA_CONFIG_JSON = JSON.stringify({
  architectures: ['LlamaForCausalLM'],
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  hidden_size: 4096,
  max_position_embeddings: 8192,
  torch_dtype: 'bfloat16',
});

export const COMMIT = 'a'.repeat(40);

export const approvedVersion: HubVersion = {
  label: 'v1',
  state: 'approved',
  sourceType: 'huggingface',
  resolvedCommit: COMMIT,
  contentDigest: `sha256:${'c'.repeat(64)}`,
  approvedDigest: `sha256:${'c'.repeat(64)}`,
  checks: [
    {
      name: 'safetensors',
      status: 'passed',
      details: { parameters: { BF16: 8030261248 } },
    },
  ],
};

export const llamaFiles: HubFile[] = [
  { path: 'config.json', size: 654, kind: 'config' },
  {
    path: 'model-00001-of-00004.safetensors',
    size: 4976698672,
    kind: 'weights',
  },
  {
    path: 'model-00002-of-00004.safetensors',
    size: 4999802720,
    kind: 'weights',
  },
  {
    path: 'model-00003-of-00004.safetensors',
    size: 4915916176,
    kind: 'weights',
  },
  {
    path: 'model-00004-of-00004.safetensors',
    size: 1168138808,
    kind: 'weights',
  },
  { path: 'tokenizer.json', size: 9085698, kind: 'tokenizer' },
];

/** A {@link ModelHubClient} over in-memory versions, keyed `namespace/name@label`. */
export function createFakeModelHubClient(
  versions: Record<
    string,
    {
      version: HubVersion;
      files?: HubFile[];
      configJson?: string;
      checks?: HubCheck[];
    }
  > = {
    'default/llama-3-8b-instruct@v1': {
      version: approvedVersion,
      files: llamaFiles,
      configJson: LLAMA_CONFIG_JSON,
    },
  },
): jest.Mocked<ModelHubClient> {
  const key = (m: { namespace: string; name: string; label: string }) =>
    `${m.namespace}/${m.name}@${m.label}`;
  const fake: ModelHubClient = {
    getModel: jest.fn(async () => undefined),
    getVersion: jest.fn(async m => versions[key(m)]?.version),
    listFiles: jest.fn(async m => versions[key(m)]?.files ?? []),
    listChecks: jest.fn(async m => versions[key(m)]?.checks ?? []),
    readTextFile: jest.fn(async m =>
      m.path === 'config.json' ? versions[key(m)]?.configJson : undefined,
    ),
    createModel: jest.fn(),
    createVersion: jest.fn(),
  };
  return fake as jest.Mocked<ModelHubClient>;
}

export const gpuConfig: GpuConfig = {
  profiles: [
    {
      name: 'l4-24gb',
      memoryGiB: 24,
      product: 'NVIDIA-L4',
      nodeSelector: { 'cloud.example.com/pool': 'l4' },
      tolerations: [
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      ],
      gpusPerNode: 4,
    },
    {
      name: 'a100-80gb',
      memoryGiB: 80,
      product: 'NVIDIA-A100-SXM4-80GB',
      nodeSelector: {},
      tolerations: [],
      gpusPerNode: 8,
    },
  ],
  images: {
    vllm: `vllm/vllm-openai@sha256:${'b'.repeat(64)}`,
    tgi: 'ghcr.io/huggingface/text-generation-inference:2.4.0',
    kserve: 'kserve/huggingfaceserver:v0.14.0',
    job: 'vllm/vllm-openai:v0.6.3',
  },
  memoryUtilization: 0.9,
  mirrorBaseUrl: 'http://portal.example.com/api/model-hub/hf',
  deploy: {
    tokenSecretName: 'model-hub-mirror-token',
    commands: { job: ['python3', 'batch.py'] },
    clusterNamespaces: { 'gpu-cluster': ['ml-serving', 'ml-batch'] },
    profileNamespaces: { 'a100-80gb': ['ml-batch'] },
  },
};

/**
 * A permissions service that answers `model-hub.deploy` (and anything else)
 * with the given decision, recording the requests.
 */
export function fakePermissions(allowed = true) {
  return {
    authorize: jest.fn(async (requests: unknown[]) =>
      requests.map(() => ({ result: allowed ? 'ALLOW' : 'DENY' } as any)),
    ),
  };
}

export type RecordedRequest = {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
};

/**
 * An HTTP-level fake of the Kubernetes API server on 127.0.0.1 and a random
 * port: `GET /api/v1/nodes` answers the given nodes, server-side apply
 * `PATCH`es echo the object with a uid, anything else is a 404 Status.
 */
export async function startFakeKubernetes(options: {
  nodes: object[];
  failApplyWith?: number;
}) {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
      });
      res.setHeader('content-type', 'application/json');
      if (req.headers.authorization !== 'Bearer sa-token') {
        res.statusCode = 401;
        res.end(JSON.stringify({ kind: 'Status', message: 'Unauthorized' }));
        return;
      }
      if (req.method === 'GET' && req.url === '/api/v1/nodes') {
        res.end(JSON.stringify({ kind: 'NodeList', items: options.nodes }));
        return;
      }
      if (req.method === 'PATCH') {
        if (options.failApplyWith) {
          res.statusCode = options.failApplyWith;
          res.end(
            JSON.stringify({
              kind: 'Status',
              message: 'namespaces "ml-serving" not found',
            }),
          );
          return;
        }
        const obj = JSON.parse(body);
        res.end(
          JSON.stringify({
            ...obj,
            metadata: { ...obj.metadata, uid: `uid-${obj.kind}` },
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', message: 'not found' }));
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

export function gpuNode(
  name: string,
  labels: Record<string, string>,
  gpus: number,
) {
  return {
    metadata: { name, labels },
    spec: {},
    status: { allocatable: { 'nvidia.com/gpu': String(gpus), cpu: '32' } },
  };
}
