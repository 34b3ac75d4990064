import { Config } from '@backstage/config';

/** The runtimes `model-hub:gpu:provision` renders manifests for. */
export const RUNTIMES = ['vllm', 'tgi', 'kserve', 'job'] as const;

/** A runtime of a GPU workload. */
export type Runtime = (typeof RUNTIMES)[number];

/** A Kubernetes toleration. */
export type Toleration = {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
};

/** A GPU node pool of `modelHub.gpu.profiles`. */
export type GpuProfile = {
  name: string;
  memoryGiB: number;
  product?: string;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  gpusPerNode: number;
};

/**
 * What a deployment (`apply: true`) may do, from `modelHub.gpu.deploy`:
 * never from template input.
 */
export type DeployConfig = {
  /** The Secret with the mirror token (`hf_...`, key `token`). */
  tokenSecretName: string;
  /** The container command per runtime (only `job` sets one). */
  commands: Partial<Record<Runtime, string[]>>;
  /** Namespaces a workload may be applied to, per cluster name. */
  clusterNamespaces: Record<string, string[]>;
  /** Namespaces a workload may be applied to, per GPU profile name. */
  profileNamespaces: Record<string, string[]>;
};

/** The parsed `modelHub.gpu` and `modelHub.mirror` configuration. */
export type GpuConfig = {
  profiles: GpuProfile[];
  images: Record<Runtime, string>;
  memoryUtilization: number;
  mirrorBaseUrl: string;
  deploy: DeployConfig;
};

export const DEFAULT_TOKEN_SECRET_NAME = 'model-hub-mirror-token';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Whether a workload may be applied to a namespace: it must be listed for
 * the cluster and for the GPU profile, where each has a list, and at least
 * one of them must have one (nothing is allowed by default). Returns the
 * reason when it may not.
 */
export function namespaceRefusal(
  deploy: DeployConfig,
  options: { cluster: string; profile: string; namespace: string },
): string | undefined {
  const byCluster = deploy.clusterNamespaces[options.cluster];
  const byProfile = deploy.profileNamespaces[options.profile];
  if (!byCluster && !byProfile) {
    return `no namespace is allowed on cluster ${options.cluster} for GPU profile ${options.profile}; list them in modelHub.gpu.deploy.namespaces`;
  }
  if (byCluster && !byCluster.includes(options.namespace)) {
    return `namespace ${options.namespace} is not allowed on cluster ${
      options.cluster
    } (allowed: ${byCluster.join(', ') || 'none'})`;
  }
  if (byProfile && !byProfile.includes(options.namespace)) {
    return `namespace ${options.namespace} is not allowed for GPU profile ${
      options.profile
    } (allowed: ${byProfile.join(', ') || 'none'})`;
  }
  return undefined;
}

function readNamespaceMap(
  config: Config | undefined,
  key: string,
): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  const section = config?.getOptionalConfig(key);
  for (const name of section?.keys() ?? []) {
    const namespaces = section!.getStringArray(name);
    for (const namespace of namespaces) {
      if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
        throw new Error(
          `modelHub.gpu.deploy.${key}.${name}: ${namespace} is not a Kubernetes namespace name`,
        );
      }
    }
    map[name] = namespaces;
  }
  return map;
}

function readDeployConfig(gpu: Config | undefined): DeployConfig {
  const deploy = gpu?.getOptionalConfig('deploy');
  const tokenSecretName =
    deploy?.getOptionalString('tokenSecretName') ?? DEFAULT_TOKEN_SECRET_NAME;
  if (
    !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(tokenSecretName) ||
    tokenSecretName.length > 253
  ) {
    throw new Error(
      `modelHub.gpu.deploy.tokenSecretName must be a Kubernetes Secret name, got ${tokenSecretName}`,
    );
  }
  const commands: DeployConfig['commands'] = {};
  for (const runtime of RUNTIMES) {
    const command = deploy?.getOptionalStringArray(`commands.${runtime}`);
    if (command) {
      if (runtime !== 'job') {
        throw new Error(
          `modelHub.gpu.deploy.commands.${runtime}: only the job runtime takes a command; the serving runtimes run their image's server`,
        );
      }
      if (command.length === 0) {
        throw new Error(`modelHub.gpu.deploy.commands.${runtime} is empty`);
      }
      commands[runtime] = command;
    }
  }
  return {
    tokenSecretName,
    commands,
    clusterNamespaces: readNamespaceMap(deploy, 'namespaces.clusters'),
    profileNamespaces: readNamespaceMap(deploy, 'namespaces.profiles'),
  };
}

/**
 * Default images, pinned to exact release tags. Portals should pin their own
 * images by digest in `modelHub.gpu.images`.
 */
export const DEFAULT_IMAGES: Record<Runtime, string> = {
  vllm: 'vllm/vllm-openai:v0.6.3',
  tgi: 'ghcr.io/huggingface/text-generation-inference:2.4.0',
  kserve: 'kserve/huggingfaceserver:v0.14.0',
  job: 'vllm/vllm-openai:v0.6.3',
};

export const DEFAULT_MEMORY_UTILIZATION = 0.9;

/** Whether an image reference is pinned: a digest, or a tag other than `latest`. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[a-f0-9]{64}$/.test(image)) {
    return true;
  }
  const lastSegment = image.split('/').pop() ?? '';
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop() : '';
  return Boolean(tag) && tag !== 'latest';
}

/**
 * Reads `modelHub.gpu` and `modelHub.mirror`, applies the defaults and
 * throws a descriptive error for impossible values.
 */
export function readGpuConfig(config: Config): GpuConfig {
  const gpu = config.getOptionalConfig('modelHub.gpu');
  const names = new Set<string>();
  const profiles = (gpu?.getOptionalConfigArray('profiles') ?? []).map(p => {
    const name = p.getString('name');
    if (names.has(name)) {
      throw new Error(`modelHub.gpu.profiles: duplicate profile name ${name}`);
    }
    names.add(name);
    const memoryGiB = p.getNumber('memoryGiB');
    const gpusPerNode = p.getOptionalNumber('gpusPerNode') ?? 1;
    if (!(memoryGiB > 0)) {
      throw new Error(`modelHub.gpu.profiles.${name}.memoryGiB must be > 0`);
    }
    if (!Number.isInteger(gpusPerNode) || gpusPerNode < 1) {
      throw new Error(
        `modelHub.gpu.profiles.${name}.gpusPerNode must be a positive integer`,
      );
    }
    // Label keys such as `nvidia.com/gpu.product` are not valid config keys
    // for getString, so the map is read as a whole.
    const selector = p.getOptional('nodeSelector') ?? {};
    if (typeof selector !== 'object' || Array.isArray(selector)) {
      throw new Error(
        `modelHub.gpu.profiles.${name}.nodeSelector must be a map`,
      );
    }
    const nodeSelector: Record<string, string> = {};
    for (const [key, value] of Object.entries(selector)) {
      if (typeof value !== 'string') {
        throw new Error(
          `modelHub.gpu.profiles.${name}.nodeSelector.${key} must be a string`,
        );
      }
      nodeSelector[key] = value;
    }
    const tolerations = (p.getOptionalConfigArray('tolerations') ?? []).map(
      t => {
        const toleration: Toleration = {};
        const key = t.getOptionalString('key');
        const operator = t.getOptionalString('operator');
        const value = t.getOptionalString('value');
        const effect = t.getOptionalString('effect');
        if (key) toleration.key = key;
        if (operator) toleration.operator = operator as Toleration['operator'];
        if (value) toleration.value = value;
        if (effect) toleration.effect = effect as Toleration['effect'];
        return toleration;
      },
    );
    return {
      name,
      memoryGiB,
      product: p.getOptionalString('product'),
      nodeSelector,
      tolerations,
      gpusPerNode,
    };
  });

  const images = { ...DEFAULT_IMAGES };
  for (const runtime of Object.keys(DEFAULT_IMAGES) as Runtime[]) {
    const image = gpu?.getOptionalString(`images.${runtime}`);
    if (image) {
      if (!isPinnedImage(image)) {
        throw new Error(
          `modelHub.gpu.images.${runtime} must be pinned by digest or an exact tag, got ${image}`,
        );
      }
      images[runtime] = image;
    }
  }

  const memoryUtilization =
    gpu?.getOptionalNumber('memoryUtilization') ?? DEFAULT_MEMORY_UTILIZATION;
  if (!(memoryUtilization > 0 && memoryUtilization <= 1)) {
    throw new Error('modelHub.gpu.memoryUtilization must be in (0, 1]');
  }

  const mirrorBaseUrl =
    config.getOptionalString('modelHub.mirror.baseUrl') ??
    `${config.getString('backend.baseUrl')}/api/model-hub/hf`;

  return {
    profiles,
    images,
    memoryUtilization,
    mirrorBaseUrl: mirrorBaseUrl.replace(/\/+$/, ''),
    deploy: readDeployConfig(gpu),
  };
}

/** A cluster of the portal's `kubernetes` configuration. */
export type KubernetesCluster = {
  name: string;
  url: string;
  serviceAccountToken?: string;
  skipTLSVerify: boolean;
  caData?: string;
};

/**
 * Reads the clusters of `kubernetes.clusterLocatorMethods[].clusters[]` (the
 * `config` locator of the Kubernetes plugin).
 */
export function readKubernetesClusters(config: Config): KubernetesCluster[] {
  const methods =
    config.getOptionalConfigArray('kubernetes.clusterLocatorMethods') ?? [];
  return methods.flatMap(method =>
    (method.getOptionalConfigArray('clusters') ?? []).map(c => ({
      name: c.getString('name'),
      url: c.getString('url').replace(/\/+$/, ''),
      serviceAccountToken: c.getOptionalString('serviceAccountToken'),
      skipTLSVerify: c.getOptionalBoolean('skipTLSVerify') ?? false,
      caData: c.getOptionalString('caData'),
    })),
  );
}
