import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import {
  InputError,
  NotAllowedError,
  ResponseError,
  isError,
} from '@backstage/errors';
import {
  PermissionsService,
  resolveSafeChildPath,
} from '@backstage/backend-plugin-api';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import {
  matchesApprovedContent,
  modelHubDeployPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import fs from 'node:fs/promises';
import path from 'node:path';
import yaml from 'yaml';
import {
  GpuConfig,
  KubernetesCluster,
  RUNTIMES,
  Runtime,
  namespaceRefusal,
} from '../lib/config';
import {
  DTYPES,
  Dtype,
  estimateGpuMemory,
  describeEstimate,
  normalizeDtype,
  pickGpuPlacement,
  readArchitecture,
  serializeEstimate,
  weightFactsFromChecks,
  weightFileBytes,
} from '../lib/estimateGpuMemory';
import { KubernetesApplier } from '../lib/KubernetesApplier';
import { ModelHubClient } from '../lib/ModelHubClient';
import { renderManifests } from '../lib/renderManifests';
import { examples } from './provisionGpu.examples';

/** A DNS-1123 label from a model name and version label. */
export function workloadName(model: string, label: string): string {
  const name = `${model}-${label}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'model';
}

function upstreamMessage(e: unknown): string {
  return isError(e) ? e.message : String(e);
}

/**
 * Creates the `model-hub:gpu:provision` action: estimates the GPU memory of
 * an approved, pinned model version, picks a GPU profile, renders
 * Kubernetes manifests into the workspace and optionally applies them.
 *
 * Applying (`apply: true`, not a dry run) needs `model-hub.deploy` on the
 * model, decided by the permission framework with the credentials of the
 * user who runs the template, and a namespace that `modelHub.gpu.deploy`
 * allows for the cluster and the GPU profile; images, the job command and
 * the token Secret come from the config, never from template input.
 * Rendering (and dry runs) needs read access to the model only.
 *
 * @public
 */
export function createGpuProvisionAction(options: {
  client: ModelHubClient;
  gpu: GpuConfig;
  clusters: KubernetesCluster[];
  permissions: Pick<PermissionsService, 'authorize'>;
}) {
  const { client, gpu, clusters, permissions } = options;
  return createTemplateAction({
    id: 'model-hub:gpu:provision',
    description:
      'Estimates the GPU memory of an approved model version, picks a GPU profile and renders (and optionally applies) Kubernetes manifests that serve it from the Model Hub mirror',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        modelRef: z =>
          z.string({
            description:
              'Entity ref of the Model, e.g. model:default/llama-3-8b-instruct',
          }),
        version: z =>
          z.string({ description: 'The version label; it must be approved' }),
        runtime: z =>
          z
            .enum(RUNTIMES, { description: 'vllm, tgi, kserve or job' })
            .default('vllm'),
        gpuProfile: z =>
          z
            .string({
              description: 'A profile of modelHub.gpu.profiles, or auto',
            })
            .default('auto'),
        replicas: z =>
          z
            .number({ description: 'Replicas (Job: parallel pods)' })
            .int()
            .min(1)
            .max(64)
            .default(1),
        namespace: z =>
          z
            .string({
              description:
                'Kubernetes namespace; with apply, one that modelHub.gpu.deploy.namespaces allows for the cluster and GPU profile',
            })
            .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
            .max(63),
        maxContextLength: z =>
          z
            .number({ description: 'Max context length in tokens' })
            .int()
            .min(128)
            .max(1_048_576)
            .default(8192),
        maxBatchSize: z =>
          z
            .number({
              description: 'Concurrent sequences the KV cache is sized for',
            })
            .int()
            .min(1)
            .max(1024)
            .default(1),
        dtype: z =>
          z
            .enum(DTYPES, {
              description:
                'Serve the weights in this dtype; defaults to the checkpoint dtype',
            })
            .optional(),
        name: z =>
          z
            .string({
              description: 'Workload name; defaults to <model>-<version>',
            })
            .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
            .max(63)
            .optional(),
        outputPath: z =>
          z
            .string({ description: 'Workspace folder of the manifests' })
            .default('manifests'),
        apply: z =>
          z
            .boolean({
              description:
                'Apply with server-side apply through the portal Kubernetes config; needs model-hub.deploy on the model',
            })
            .default(false),
        cluster: z =>
          z
            .string({
              description:
                'Cluster name of kubernetes.clusterLocatorMethods; defaults to the first',
            })
            .optional(),
      },
      output: {
        manifests: z =>
          z.string({ description: 'The manifests, as multi-document YAML' }),
        objects: z =>
          z.array(z.record(z.unknown()), {
            description: 'The manifests as objects',
          }),
        manifestPath: z =>
          z.string({ description: 'Workspace path of the manifests file' }),
        estimate: z =>
          z.record(z.unknown(), { description: 'The GPU memory estimate' }),
        gpuProfile: z => z.string(),
        gpuCount: z => z.number(),
        revision: z => z.string({ description: 'The pinned commit or digest' }),
        applied: z => z.array(z.record(z.unknown())).optional(),
        warnings: z => z.array(z.string()),
      },
    },
    async handler(ctx) {
      const input = ctx.input;
      const runtime: Runtime = input.runtime ?? 'vllm';
      const contextLength = input.maxContextLength ?? 8192;
      const batchSize = input.maxBatchSize ?? 1;
      const replicas = input.replicas ?? 1;
      const warnings: string[] = [];

      let ref;
      try {
        ref = parseEntityRef(input.modelRef, {
          defaultKind: 'model',
          defaultNamespace: 'default',
        });
      } catch (e) {
        throw new InputError(`Invalid modelRef ${input.modelRef}`, e);
      }
      if (ref.kind.toLocaleLowerCase('en-US') !== 'model') {
        throw new InputError(
          `modelRef must be a Model entity, got ${input.modelRef}`,
        );
      }
      const modelRef = stringifyEntityRef(ref);
      const credentials = await ctx.getInitiatorCredentials();
      const applying = Boolean(input.apply) && !ctx.isDryRun;
      if (applying) {
        const [decision] = await permissions.authorize(
          [{ permission: modelHubDeployPermission, resourceRef: modelRef }],
          { credentials },
        );
        // AuthorizeResult.ALLOW is the string 'ALLOW'
        if (String(decision.result) !== 'ALLOW') {
          throw new NotAllowedError(
            `Not allowed: ${modelHubDeployPermission.name} on ${modelRef}; rendering without apply needs read access only`,
          );
        }
      }
      const where = {
        namespace: ref.namespace,
        name: ref.name,
        label: input.version,
      };

      let version;
      try {
        version = await client.getVersion(where, { credentials });
      } catch (e) {
        if (e instanceof ResponseError && e.statusCode === 403) {
          throw new NotAllowedError(
            `Not allowed to read ${modelRef}: ${e.message}`,
          );
        }
        throw new InputError(
          `Could not read version ${
            input.version
          } of ${modelRef}: ${upstreamMessage(e)}`,
        );
      }
      if (!version) {
        throw new InputError(`${modelRef} has no version ${input.version}`);
      }
      if (version.state !== 'approved') {
        throw new InputError(
          `Version ${input.version} of ${modelRef} is ${version.state}; only approved versions can be provisioned`,
        );
      }
      if (!matchesApprovedContent(version)) {
        throw new InputError(
          `The files of version ${input.version} of ${modelRef} do not match the content it was approved with; it cannot be provisioned`,
        );
      }
      const revision = version.resolvedCommit ?? version.manifestDigest;
      if (!revision) {
        throw new InputError(
          `Version ${input.version} of ${modelRef} is not pinned to a commit or manifest digest`,
        );
      }

      const files = await client.listFiles(where, { credentials });
      let architecture;
      if (files.some(f => f.path === 'config.json')) {
        const text = await client.readTextFile(
          { ...where, path: 'config.json' },
          { credentials },
        );
        try {
          architecture = text ? readArchitecture(JSON.parse(text)) : undefined;
        } catch {
          warnings.push(
            'config.json is not valid JSON: KV cache not estimated',
          );
        }
      }

      let checks = version.checks;
      if (!checks) {
        try {
          checks = await client.listChecks(where, { credentials });
        } catch (e) {
          warnings.push(
            `Could not read the inspection checks: ${upstreamMessage(e)}`,
          );
        }
      }
      const facts = weightFactsFromChecks(checks);
      let parameterCount = facts?.parameterCount;
      let source = facts ? 'checks' : 'files';
      const checkpointDtype: Dtype | undefined =
        facts?.dtype ?? architecture?.torchDtype;
      const dtype: Dtype | undefined = input.dtype ?? checkpointDtype;
      const fileBytes = weightFileBytes(files);
      if (!parameterCount && input.dtype && checkpointDtype && fileBytes) {
        // Convert file sizes to a parameter count through the checkpoint dtype.
        parameterCount = Math.round(
          fileBytes /
            { fp32: 4, fp16: 2, bf16: 2, fp8: 1, int8: 1, int4: 0.5 }[
              checkpointDtype
            ],
        );
        source = 'files';
      }
      const estimate = estimateGpuMemory({
        parameterCount: parameterCount && dtype ? parameterCount : undefined,
        dtype: normalizeDtype(dtype),
        weightFileBytes: fileBytes,
        architecture,
        contextLength,
        batchSize,
        runtime,
        source,
      });
      warnings.push(...estimate.notes);
      ctx.logger.info(
        `GPU memory estimate for ${modelRef}@${
          input.version
        }: ${describeEstimate(estimate)}`,
      );

      const placement = pickGpuPlacement(estimate, gpu.profiles, {
        profileName: input.gpuProfile,
        memoryUtilization: gpu.memoryUtilization,
      });
      ctx.logger.info(
        `Picked GPU profile ${placement.profile.name} × ${
          placement.gpuCount
        } (${(placement.perGpuBytes / 1024 ** 3).toFixed(
          1,
        )} GiB needed per GPU)`,
      );

      const name = input.name ?? workloadName(ref.name, input.version);
      const objects = renderManifests({
        name,
        namespace: input.namespace,
        runtime,
        image: gpu.images[runtime],
        modelRef,
        repoId: `${ref.namespace}/${ref.name}`,
        versionLabel: input.version,
        revision,
        mirrorRevision: version.resolvedCommit ?? version.label,
        tokenSecretName: gpu.deploy.tokenSecretName,
        mirrorBaseUrl: gpu.mirrorBaseUrl,
        profile: placement.profile,
        gpuCount: placement.gpuCount,
        replicas,
        maxContextLength: contextLength,
        memoryUtilization: gpu.memoryUtilization,
        dtype: estimate.dtype,
        command: gpu.deploy.commands[runtime],
      });
      const manifests = objects.map(o => yaml.stringify(o)).join('---\n');
      const manifestPath = path.posix.join(
        input.outputPath ?? 'manifests',
        `${name}.yaml`,
      );
      const target = resolveSafeChildPath(ctx.workspacePath, manifestPath);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, manifests, 'utf8');

      let applied;
      if (input.apply) {
        if (!applying) {
          ctx.logger.info('Dry run: the manifests are not applied');
        } else {
          const cluster = input.cluster
            ? clusters.find(c => c.name === input.cluster)
            : clusters[0];
          if (!cluster) {
            throw new InputError(
              input.cluster
                ? `Unknown Kubernetes cluster ${input.cluster}; configured: ${
                    clusters.map(c => c.name).join(', ') || 'none'
                  }`
                : 'apply: true needs a cluster in kubernetes.clusterLocatorMethods[].clusters',
            );
          }
          const refusal = namespaceRefusal(gpu.deploy, {
            cluster: cluster.name,
            profile: placement.profile.name,
            namespace: input.namespace,
          });
          if (refusal) {
            throw new NotAllowedError(`Not applied: ${refusal}`);
          }
          const kube = new KubernetesApplier(cluster);
          try {
            const room = await kube.gpuRoom({
              nodeSelector:
                (objects[0] as any).spec?.template?.spec?.nodeSelector ??
                (objects[0] as any).spec?.predictor?.nodeSelector ??
                {},
              gpuCount: placement.gpuCount,
              memoryGiB: placement.profile.memoryGiB,
            });
            if (room.warning) {
              ctx.logger.warn(`${room.warning}; the pods may stay pending`);
              warnings.push(room.warning);
            }
          } catch (e) {
            const message = `Could not check GPU room: ${upstreamMessage(e)}`;
            ctx.logger.warn(message);
            warnings.push(message);
          }
          applied = await ctx.checkpoint({
            key: `model-hub-gpu-apply-${cluster.name}-${input.namespace}-${name}-${revision}`,
            fn: async () => {
              const result = [];
              for (const obj of objects) {
                try {
                  result.push(await kube.apply(obj));
                } catch (e) {
                  throw new InputError(upstreamMessage(e));
                }
              }
              return result;
            },
          });
          ctx.logger.info(
            `Applied ${applied
              .map(a => `${a.kind}/${a.name}`)
              .join(', ')} to cluster ${cluster.name}`,
          );
        }
      }

      ctx.output('manifests', manifests);
      ctx.output('objects', objects as any);
      ctx.output('manifestPath', manifestPath);
      ctx.output('estimate', serializeEstimate(estimate));
      ctx.output('gpuProfile', placement.profile.name);
      ctx.output('gpuCount', placement.gpuCount);
      ctx.output('revision', revision);
      if (applied) {
        ctx.output('applied', applied);
      }
      ctx.output('warnings', warnings);
    },
  });
}
