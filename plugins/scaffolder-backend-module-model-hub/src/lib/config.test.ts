import { ConfigReader } from '@backstage/config';
import {
  DEFAULT_IMAGES,
  isPinnedImage,
  readGpuConfig,
  readKubernetesClusters,
} from './config';

describe('readGpuConfig', () => {
  it('applies defaults', () => {
    expect(
      readGpuConfig(
        new ConfigReader({ backend: { baseUrl: 'http://localhost:7007' } }),
      ),
    ).toEqual({
      profiles: [],
      images: DEFAULT_IMAGES,
      memoryUtilization: 0.9,
      mirrorBaseUrl: 'http://localhost:7007/api/model-hub/hf',
      deploy: {
        tokenSecretName: 'model-hub-mirror-token',
        commands: {},
        clusterNamespaces: {},
        profileNamespaces: {},
      },
    });
  });

  it('reads what deployments may do from modelHub.gpu.deploy', () => {
    const read = (deploy: unknown) =>
      readGpuConfig(
        new ConfigReader({
          backend: { baseUrl: 'http://localhost:7007' },
          modelHub: { gpu: { deploy } },
        } as any),
      ).deploy;
    expect(
      read({
        tokenSecretName: 'team-a.hf-token',
        commands: { job: ['python3', '-m', 'batch'] },
        namespaces: {
          clusters: { 'gpu-cluster': ['ml-serving'] },
          profiles: { a100: ['ml-batch', 'ml-serving'] },
        },
      }),
    ).toEqual({
      tokenSecretName: 'team-a.hf-token',
      commands: { job: ['python3', '-m', 'batch'] },
      clusterNamespaces: { 'gpu-cluster': ['ml-serving'] },
      profileNamespaces: { a100: ['ml-batch', 'ml-serving'] },
    });
    expect(() => read({ tokenSecretName: 'Not_A_Name' })).toThrow(
      'modelHub.gpu.deploy.tokenSecretName must be a Kubernetes Secret name, got Not_A_Name',
    );
    expect(() => read({ commands: { vllm: ['sh'] } })).toThrow(
      'modelHub.gpu.deploy.commands.vllm: only the job runtime takes a command',
    );
    expect(() => read({ commands: { job: [] } })).toThrow(
      'modelHub.gpu.deploy.commands.job is empty',
    );
    expect(() =>
      read({ namespaces: { clusters: { c1: ['Kube_System'] } } }),
    ).toThrow(
      'modelHub.gpu.deploy.namespaces.clusters.c1: Kube_System is not a Kubernetes namespace name',
    );
  });

  it('reads profiles, images and the mirror', () => {
    const config = readGpuConfig(
      new ConfigReader({
        backend: { baseUrl: 'http://localhost:7007' },
        modelHub: {
          mirror: { baseUrl: 'https://hub.example.com/hf/' },
          gpu: {
            memoryUtilization: 0.85,
            images: { vllm: `vllm/vllm-openai@sha256:${'a'.repeat(64)}` },
            profiles: [
              {
                name: 'a100',
                memoryGiB: 80,
                product: 'NVIDIA-A100-SXM4-80GB',
                nodeSelector: {
                  pool: 'gpu',
                  'cloud.google.com/gke-accelerator': 'nvidia-tesla-a100',
                },
                tolerations: [
                  {
                    key: 'nvidia.com/gpu',
                    operator: 'Exists',
                    effect: 'NoSchedule',
                  },
                ],
                gpusPerNode: 8,
              },
            ],
          },
        },
      }),
    );
    expect(config).toEqual({
      profiles: [
        {
          name: 'a100',
          memoryGiB: 80,
          product: 'NVIDIA-A100-SXM4-80GB',
          nodeSelector: {
            pool: 'gpu',
            'cloud.google.com/gke-accelerator': 'nvidia-tesla-a100',
          },
          tolerations: [
            { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
          ],
          gpusPerNode: 8,
        },
      ],
      images: {
        ...DEFAULT_IMAGES,
        vllm: `vllm/vllm-openai@sha256:${'a'.repeat(64)}`,
      },
      memoryUtilization: 0.85,
      mirrorBaseUrl: 'https://hub.example.com/hf',
      deploy: expect.objectContaining({ commands: {} }),
    });
  });

  it('refuses unpinned images, duplicate profiles and bad numbers', () => {
    const read = (gpu: object) =>
      readGpuConfig(
        new ConfigReader({
          backend: { baseUrl: 'http://x' },
          modelHub: { gpu },
        }),
      );
    expect(() =>
      read({
        images: { tgi: 'ghcr.io/huggingface/text-generation-inference:latest' },
      }),
    ).toThrow(
      'modelHub.gpu.images.tgi must be pinned by digest or an exact tag, got ghcr.io/huggingface/text-generation-inference:latest',
    );
    expect(() =>
      read({
        profiles: [
          { name: 'a', memoryGiB: 1 },
          { name: 'a', memoryGiB: 2 },
        ],
      }),
    ).toThrow('duplicate profile name a');
    expect(() => read({ profiles: [{ name: 'a', memoryGiB: 0 }] })).toThrow(
      'modelHub.gpu.profiles.a.memoryGiB must be > 0',
    );
    expect(() =>
      read({ profiles: [{ name: 'a', memoryGiB: 8, gpusPerNode: 0 }] }),
    ).toThrow('gpusPerNode must be a positive integer');
    expect(() =>
      read({
        profiles: [{ name: 'a', memoryGiB: 8, nodeSelector: { pool: 1 } }],
      }),
    ).toThrow('modelHub.gpu.profiles.a.nodeSelector.pool must be a string');
    expect(() => read({ memoryUtilization: 1.5 })).toThrow(
      'modelHub.gpu.memoryUtilization must be in (0, 1]',
    );
  });

  it('knows pinned images', () => {
    expect(isPinnedImage('vllm/vllm-openai:v0.6.3')).toBe(true);
    expect(isPinnedImage('localhost:5000/vllm')).toBe(false);
    expect(isPinnedImage('vllm/vllm-openai')).toBe(false);
  });
});

describe('readKubernetesClusters', () => {
  it('reads the clusters of every config locator', () => {
    expect(
      readKubernetesClusters(
        new ConfigReader({
          kubernetes: {
            clusterLocatorMethods: [
              { type: 'catalog' },
              {
                type: 'config',
                clusters: [
                  {
                    name: 'gpu',
                    url: 'https://k8s.example.com/',
                    serviceAccountToken: 't',
                    skipTLSVerify: true,
                  },
                ],
              },
            ],
          },
        }),
      ),
    ).toEqual([
      {
        name: 'gpu',
        url: 'https://k8s.example.com',
        serviceAccountToken: 't',
        skipTLSVerify: true,
        caData: undefined,
      },
    ]);
    expect(readKubernetesClusters(new ConfigReader({}))).toEqual([]);
  });
});
