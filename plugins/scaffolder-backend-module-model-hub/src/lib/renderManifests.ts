import { GpuProfile, Runtime } from './config';
import { Dtype } from './estimateGpuMemory';

/** A Kubernetes object. */
export type KubernetesObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};

/** Input of {@link renderManifests}. */
export type RenderOptions = {
  name: string;
  namespace: string;
  runtime: Runtime;
  image: string;
  modelRef: string;
  /** The repository id the mirror serves the model as, `<namespace>/<name>`. */
  repoId: string;
  versionLabel: string;
  /** The pin of the version: the resolved commit or the manifest digest. */
  revision: string;
  /**
   * The revision asked from the mirror: the resolved commit, else the version
   * label (the mirror serves approved versions by label or commit id, and an
   * approved version's files cannot change).
   */
  mirrorRevision: string;
  /** A Secret with the mirror token (`hf_...`) under the key `token`. */
  tokenSecretName?: string;
  mirrorBaseUrl: string;
  profile: GpuProfile;
  gpuCount: number;
  replicas: number;
  maxContextLength: number;
  memoryUtilization: number;
  dtype?: Dtype;
  /** Command of `runtime: job`. */
  command?: string[];
};

const PORTS: Record<Runtime, number> = {
  vllm: 8000,
  tgi: 80,
  kserve: 8080,
  job: 0,
};

/** The `--dtype` of vLLM for unquantized weights; quantized ones are read from the checkpoint. */
function vllmDtype(dtype?: Dtype): string[] {
  if (dtype === 'fp16') return ['--dtype', 'float16'];
  if (dtype === 'bf16') return ['--dtype', 'bfloat16'];
  if (dtype === 'fp32') return ['--dtype', 'float32'];
  return [];
}

/**
 * Renders the Kubernetes manifests of a GPU workload: a Deployment and a
 * Service (vLLM, TGI), a KServe InferenceService, or a Job. Every pod asks
 * for `nvidia.com/gpu`, runs a pinned image, and downloads the model from
 * the hub's Hugging Face mirror (`HF_ENDPOINT`) at the pinned revision.
 */
export function renderManifests(o: RenderOptions): KubernetesObject[] {
  const labels = {
    'app.kubernetes.io/name': o.name,
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': 'model-hub',
    'model-hub.dev/runtime': o.runtime,
  };
  const annotations = {
    'model-hub.dev/model-ref': o.modelRef,
    'model-hub.dev/version': o.versionLabel,
    'model-hub.dev/revision': o.revision,
    'model-hub.dev/gpu-profile': o.profile.name,
  };
  const metadata = (name: string) => ({
    name,
    namespace: o.namespace,
    labels: { ...labels },
    annotations: { ...annotations },
  });
  const env: Array<Record<string, unknown>> = [
    { name: 'HF_ENDPOINT', value: o.mirrorBaseUrl },
    ...(o.tokenSecretName
      ? [
          {
            name: 'HF_TOKEN',
            valueFrom: {
              secretKeyRef: {
                name: o.tokenSecretName,
                key: 'token',
                optional: true,
              },
            },
          },
        ]
      : []),
    { name: 'HF_HUB_DISABLE_XET', value: '1' },
    { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
    { name: 'MODEL_HUB_MODEL_REF', value: o.modelRef },
    { name: 'MODEL_HUB_REVISION', value: o.revision },
  ];
  const rev = o.mirrorRevision;
  const resources = {
    limits: { 'nvidia.com/gpu': String(o.gpuCount) },
    requests: { 'nvidia.com/gpu': String(o.gpuCount) },
  };
  const nodeSelector = {
    ...o.profile.nodeSelector,
    ...(o.profile.product
      ? { 'nvidia.com/gpu.product': o.profile.product }
      : {}),
  };
  const scheduling = {
    ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
    ...(o.profile.tolerations.length
      ? { tolerations: o.profile.tolerations }
      : {}),
  };
  // Tensor parallel workers talk over shared memory.
  const shm = {
    volumes: [
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '16Gi' } },
    ],
    volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
  };
  const port = PORTS[o.runtime];

  if (o.runtime === 'kserve') {
    return [
      {
        apiVersion: 'serving.kserve.io/v1beta1',
        kind: 'InferenceService',
        metadata: metadata(o.name),
        spec: {
          predictor: {
            minReplicas: o.replicas,
            maxReplicas: o.replicas,
            ...scheduling,
            volumes: shm.volumes,
            containers: [
              {
                name: 'kserve-container',
                image: o.image,
                args: [
                  `--model_name=${o.name}`,
                  `--model_id=${o.repoId}`,
                  `--model_revision=${rev}`,
                  `--tokenizer_revision=${rev}`,
                  `--max-model-len=${o.maxContextLength}`,
                  `--tensor-parallel-size=${o.gpuCount}`,
                  `--gpu-memory-utilization=${o.memoryUtilization}`,
                  ...vllmDtype(o.dtype)
                    .slice(1)
                    .map(d => `--dtype=${d}`),
                ],
                env,
                ports: [{ containerPort: port, protocol: 'TCP' }],
                resources,
                volumeMounts: shm.volumeMounts,
              },
            ],
          },
        },
      },
    ];
  }

  if (o.runtime === 'job') {
    return [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: metadata(o.name),
        spec: {
          parallelism: o.replicas,
          completions: o.replicas,
          backoffLimit: 2,
          template: {
            metadata: {
              labels: { ...labels },
              annotations: { ...annotations },
            },
            spec: {
              restartPolicy: 'Never',
              ...scheduling,
              volumes: shm.volumes,
              containers: [
                {
                  name: 'job',
                  image: o.image,
                  command: o.command ?? [
                    'huggingface-cli',
                    'download',
                    o.repoId,
                    '--revision',
                    rev,
                  ],
                  env: [
                    ...env,
                    { name: 'MODEL_ID', value: o.repoId },
                    { name: 'MODEL_REVISION', value: rev },
                    {
                      name: 'MAX_MODEL_LEN',
                      value: String(o.maxContextLength),
                    },
                  ],
                  resources,
                  volumeMounts: shm.volumeMounts,
                },
              ],
            },
          },
        },
      },
    ];
  }

  const container =
    o.runtime === 'vllm'
      ? {
          name: 'vllm',
          image: o.image,
          args: [
            '--model',
            o.repoId,
            '--revision',
            rev,
            '--tokenizer-revision',
            rev,
            '--served-model-name',
            o.name,
            '--max-model-len',
            String(o.maxContextLength),
            '--tensor-parallel-size',
            String(o.gpuCount),
            '--gpu-memory-utilization',
            String(o.memoryUtilization),
            ...vllmDtype(o.dtype),
            '--port',
            String(port),
          ],
          env,
        }
      : {
          name: 'tgi',
          image: o.image,
          env: [
            ...env,
            { name: 'MODEL_ID', value: o.repoId },
            { name: 'REVISION', value: rev },
            { name: 'NUM_SHARD', value: String(o.gpuCount) },
            { name: 'MAX_TOTAL_TOKENS', value: String(o.maxContextLength) },
            {
              name: 'MAX_INPUT_TOKENS',
              value: String(Math.max(1, o.maxContextLength - 1)),
            },
            { name: 'PORT', value: String(port) },
          ],
        };

  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(o.name),
      spec: {
        replicas: o.replicas,
        selector: { matchLabels: { 'app.kubernetes.io/name': o.name } },
        template: {
          metadata: { labels: { ...labels }, annotations: { ...annotations } },
          spec: {
            ...scheduling,
            volumes: shm.volumes,
            containers: [
              {
                ...container,
                ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
                resources,
                volumeMounts: shm.volumeMounts,
                readinessProbe: {
                  httpGet: { path: '/health', port: 'http' },
                  periodSeconds: 10,
                  failureThreshold: 60,
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: metadata(o.name),
      spec: {
        selector: { 'app.kubernetes.io/name': o.name },
        ports: [
          { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        ],
      },
    },
  ];
}
