import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import yaml from 'yaml';
import {
  createFakeModelHubClient,
  fakePermissions,
  gpuConfig,
  gpuNode,
  startFakeKubernetes,
} from './__fixtures__/fakes';
import { createGpuProvisionAction } from './provisionGpu';
import { examples } from './provisionGpu.examples';

describe('model-hub:gpu:provision examples', () => {
  let kube: Awaited<ReturnType<typeof startFakeKubernetes>>;
  beforeAll(async () => {
    kube = await startFakeKubernetes({
      nodes: [
        gpuNode(
          'a100-1',
          { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' },
          8,
        ),
      ],
    });
  });
  afterAll(() => kube.close());

  it.each(examples.map(e => [e.description, e] as const))(
    '%s',
    async (_d, example) => {
      const action = createGpuProvisionAction({
        client: createFakeModelHubClient(),
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
      const step = yaml.parse(example.example).steps[0];
      expect(step.action).toBe(action.id);
      const ctx = createMockActionContext({ input: step.input });
      await action.handler(ctx as any);
      const output = ctx.output as jest.Mock;
      expect(output).toHaveBeenCalledWith(
        'manifests',
        expect.stringContaining('nvidia.com/gpu'),
      );
      expect(output).toHaveBeenCalledWith('gpuProfile', expect.any(String));
      const applied = output.mock.calls.find(([name]) => name === 'applied');
      const appliedKinds = (applied?.[1] ?? []).map(
        (a: { kind: string; uid: string }) => `${a.kind}/${a.uid}`,
      );
      expect(appliedKinds).toEqual(step.input.apply ? ['Job/uid-Job'] : []);
    },
  );
});
