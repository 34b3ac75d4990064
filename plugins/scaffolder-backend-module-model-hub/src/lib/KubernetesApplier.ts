import http from 'node:http';
import https from 'node:https';
import { KubernetesCluster } from './config';
import { KubernetesObject } from './renderManifests';

/** The answer of the Kubernetes API server to one request. */
type KubeResponse = { status: number; body: string };

/** An object applied with server-side apply. */
export type AppliedObject = {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
};

/** GPU room of the cluster's nodes for one placement. */
export type GpuRoom = {
  /** Nodes that match the profile's node selector. */
  matchingNodes: number;
  /** Matching nodes with at least the requested allocatable `nvidia.com/gpu`. */
  nodesWithRoom: number;
  /** Why there is no room, if there is none. */
  warning?: string;
};

/** The plural resource name of a kind, for the REST path. */
function plural(kind: string): string {
  const lower = kind.toLowerCase();
  return lower.endsWith('s') ? `${lower}es` : `${lower}s`;
}

/** The REST path of a namespaced object. */
export function objectPath(obj: KubernetesObject): string {
  const group = obj.apiVersion.includes('/')
    ? `/apis/${obj.apiVersion}`
    : `/api/${obj.apiVersion}`;
  const ns = obj.metadata.namespace
    ? `/namespaces/${encodeURIComponent(obj.metadata.namespace)}`
    : '';
  return `${group}${ns}/${plural(obj.kind)}/${encodeURIComponent(
    obj.metadata.name,
  )}`;
}

/**
 * Talks to one cluster of the portal's Kubernetes configuration: reads nodes
 * and applies objects with server-side apply (`fieldManager=model-hub`).
 */
export class KubernetesApplier {
  constructor(private readonly cluster: KubernetesCluster) {}

  get clusterName(): string {
    return this.cluster.name;
  }

  private request(
    method: string,
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<KubeResponse> {
    const url = new URL(`${this.cluster.url}${path}`);
    const isHttps = url.protocol === 'https:';
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.cluster.serviceAccountToken) {
      headers.authorization = `Bearer ${this.cluster.serviceAccountToken}`;
    }
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const options: https.RequestOptions = {
      method,
      headers,
      ...(isHttps
        ? {
            rejectUnauthorized: !this.cluster.skipTLSVerify,
            ...(this.cluster.caData
              ? { ca: Buffer.from(this.cluster.caData, 'base64') }
              : {}),
          }
        : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, options, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      });
      req.setTimeout(30_000, () =>
        req.destroy(new Error(`timed out after 30 s: ${method} ${path}`)),
      );
      req.on('error', reject);
      if (body !== undefined) {
        req.write(body);
      }
      req.end();
    });
  }

  private failure(what: string, res: KubeResponse): Error {
    let message = res.body;
    try {
      message = JSON.parse(res.body).message ?? message;
    } catch {
      // not a Status object
    }
    return new Error(
      `${what} on cluster ${this.cluster.name} failed with HTTP ${res.status}: ${message}`,
    );
  }

  /** Applies one object with server-side apply, taking over conflicting fields. */
  async apply(obj: KubernetesObject): Promise<AppliedObject> {
    const path = `${objectPath(obj)}?fieldManager=model-hub&force=true`;
    const res = await this.request(
      'PATCH',
      path,
      JSON.stringify(obj),
      'application/apply-patch+yaml',
    );
    if (res.status < 200 || res.status >= 300) {
      throw this.failure(`Applying ${obj.kind} ${obj.metadata.name}`, res);
    }
    const applied = JSON.parse(res.body);
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      uid: applied?.metadata?.uid,
    };
  }

  /**
   * Checks whether any node matching the node selector has `gpuCount`
   * allocatable `nvidia.com/gpu`. GPU feature discovery labels
   * (`nvidia.com/gpu.product`, `nvidia.com/gpu.memory` in MiB) are in the
   * node selector or compared with `memoryGiB`.
   */
  async gpuRoom(options: {
    nodeSelector: Record<string, string>;
    gpuCount: number;
    memoryGiB: number;
  }): Promise<GpuRoom> {
    const res = await this.request('GET', '/api/v1/nodes');
    if (res.status !== 200) {
      throw this.failure('Listing nodes', res);
    }
    const nodes: Array<{
      metadata?: { name?: string; labels?: Record<string, string> };
      spec?: { unschedulable?: boolean };
      status?: { allocatable?: Record<string, string> };
    }> = JSON.parse(res.body).items ?? [];
    const matching = nodes.filter(
      n =>
        !n.spec?.unschedulable &&
        Object.entries(options.nodeSelector).every(
          ([k, v]) => n.metadata?.labels?.[k] === v,
        ),
    );
    const withRoom = matching.filter(n => {
      const gpus = Number(n.status?.allocatable?.['nvidia.com/gpu'] ?? 0);
      const memMiB = Number(n.metadata?.labels?.['nvidia.com/gpu.memory'] ?? 0);
      const memoryOk = !memMiB || memMiB / 1024 >= options.memoryGiB * 0.9;
      return gpus >= options.gpuCount && memoryOk;
    });
    const selector =
      Object.entries(options.nodeSelector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || 'any labels';
    let warning: string | undefined;
    if (matching.length === 0) {
      warning = `No schedulable node of cluster ${this.cluster.name} matches ${selector}`;
    } else if (withRoom.length === 0) {
      warning = `None of the ${matching.length} node(s) of cluster ${this.cluster.name} matching ${selector} has ${options.gpuCount} allocatable nvidia.com/gpu of ${options.memoryGiB} GiB`;
    }
    return {
      matchingNodes: matching.length,
      nodesWithRoom: withRoom.length,
      warning,
    };
  }
}
