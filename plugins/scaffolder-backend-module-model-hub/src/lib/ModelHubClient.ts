import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import { ResponseError } from '@backstage/errors';
import type {
  CreateModelRequest as HubCreateModelRequest,
  CreateVersionRequest as HubCreateVersionRequest,
  HubFile as HubApiFile,
  HubModel as HubApiModel,
  HubVersion as HubApiVersion,
  HubVersionCheck,
  ModelSource,
  VersionState,
} from '@model-hub/backstage-plugin-model-hub-common';

// The shapes of the REST API live in -common; the types below are the parts
// of them the actions read. They are more lenient than the API (optional
// fields) because the actions read only these fields and take them from
// whatever a Model Hub backend of any version answers.

/** The states of a model version in Model Hub. */
export type HubVersionState = VersionState;

/**
 * The fields of a model of the Model Hub backend
 * (`GET /models/{namespace}/{name}`) that the actions read.
 */
export type HubModel = Pick<
  HubApiModel,
  'id' | 'entityRef' | 'namespace' | 'name' | 'title' | 'owner'
> & {
  /** A `ModelType` (read as any string). */
  type: string;
};

/**
 * An inspection check of a version (the review data's `checks.items`).
 * Format inspections store the safetensors header facts (parameter count,
 * dtype) in `details`; the estimate also reads `result` and free-form
 * fields, and falls back to file sizes when a version has none.
 */
export type HubCheck = Partial<Omit<HubVersionCheck, 'status'>> & {
  /** A `HubCheckStatus`; read as any string. */
  status?: string;
  type?: string;
  result?: Record<string, unknown>;
  [key: string]: unknown;
};

/** A version of a model (`GET /models/{ns}/{name}/versions/{label}`). */
export type HubVersion = Pick<HubApiVersion, 'label' | 'state'> &
  Partial<
    Pick<
      HubApiVersion,
      | 'id'
      | 'sourceType'
      | 'resolvedCommit'
      | 'manifestDigest'
      | 'contentDigest'
      | 'approvedDigest'
      | 'fileCount'
      | 'totalSize'
    >
  > & {
    source?: ModelSource;
    checks?: HubCheck[];
  };

/** A file of a version. */
export type HubFile = Pick<HubApiFile, 'path' | 'size'> &
  Partial<Pick<HubApiFile, 'sha256' | 'kind'>>;

/** The model part of a model reference. */
export type ModelRefParts = { namespace: string; name: string };

/**
 * The body of `POST /models`, with the type and format as the action's
 * input gives them (strings the backend validates).
 */
export type CreateModelRequest = Omit<
  HubCreateModelRequest,
  'type' | 'format'
> & {
  type: string;
  format?: string;
};

/** The body of `POST /models/{ns}/{name}/versions`. */
export type CreateVersionRequest = HubCreateVersionRequest;

/**
 * What the scaffolder actions need from the Model Hub backend. Every call is
 * made on behalf of the task's initiator.
 */
export interface ModelHubClient {
  getModel(
    model: ModelRefParts,
    options: { credentials: BackstageCredentials },
  ): Promise<(HubModel & { versions?: HubVersion[] }) | undefined>;
  getVersion(
    model: ModelRefParts & { label: string },
    options: { credentials: BackstageCredentials },
  ): Promise<HubVersion | undefined>;
  listFiles(
    model: ModelRefParts & { label: string },
    options: { credentials: BackstageCredentials },
  ): Promise<HubFile[]>;
  /**
   * The inspection checks of a version (`GET .../review`, `checks.items`);
   * empty when the backend has none.
   */
  listChecks(
    model: ModelRefParts & { label: string },
    options: { credentials: BackstageCredentials },
  ): Promise<HubCheck[]>;
  /** The text of a file of a version, or undefined if it has no such file. */
  readTextFile(
    model: ModelRefParts & { label: string; path: string },
    options: { credentials: BackstageCredentials },
  ): Promise<string | undefined>;
  createModel(
    request: CreateModelRequest,
    options: { credentials: BackstageCredentials },
  ): Promise<HubModel>;
  createVersion(
    model: ModelRefParts,
    request: CreateVersionRequest,
    options: { credentials: BackstageCredentials },
  ): Promise<HubVersion>;
}

const PLUGIN_ID = 'model-hub';

/**
 * {@link ModelHubClient} over HTTP: the base URL comes from discovery and
 * each request carries a plugin request token on behalf of the initiator.
 */
export class DefaultModelHubClient implements ModelHubClient {
  constructor(
    private readonly options: {
      discovery: DiscoveryService;
      auth: AuthService;
    },
  ) {}

  async getModel(
    model: ModelRefParts,
    { credentials }: { credentials: BackstageCredentials },
  ) {
    return this.request<HubModel & { versions?: HubVersion[] }>(
      credentials,
      `/models/${seg(model.namespace)}/${seg(model.name)}`,
      { allow404: true },
    );
  }

  async getVersion(
    model: ModelRefParts & { label: string },
    { credentials }: { credentials: BackstageCredentials },
  ) {
    return this.request<HubVersion>(credentials, `${versionPath(model)}`, {
      allow404: true,
    });
  }

  async listFiles(
    model: ModelRefParts & { label: string },
    { credentials }: { credentials: BackstageCredentials },
  ): Promise<HubFile[]> {
    const body = await this.request<{ files?: HubFile[] }>(
      credentials,
      `${versionPath(model)}/files`,
      { allow404: true },
    );
    return body?.files ?? [];
  }

  async listChecks(
    model: ModelRefParts & { label: string },
    { credentials }: { credentials: BackstageCredentials },
  ): Promise<HubCheck[]> {
    const body = await this.request<{ checks?: { items?: HubCheck[] } }>(
      credentials,
      `${versionPath(model)}/review`,
      { allow404: true },
    );
    return body?.checks?.items ?? [];
  }

  async readTextFile(
    model: ModelRefParts & { label: string; path: string },
    { credentials }: { credentials: BackstageCredentials },
  ): Promise<string | undefined> {
    const filePath = model.path.split('/').map(seg).join('/');
    const res = await this.fetch(
      credentials,
      `${versionPath(model)}/files/${filePath}`,
    );
    if (res.status === 404) {
      return undefined;
    }
    if (!res.ok) {
      throw await ResponseError.fromResponse(res);
    }
    return res.text();
  }

  async createModel(
    request: CreateModelRequest,
    { credentials }: { credentials: BackstageCredentials },
  ): Promise<HubModel> {
    return (await this.request<HubModel>(credentials, '/models', {
      method: 'POST',
      body: request,
    }))!;
  }

  async createVersion(
    model: ModelRefParts,
    request: CreateVersionRequest,
    { credentials }: { credentials: BackstageCredentials },
  ): Promise<HubVersion> {
    return (await this.request<HubVersion>(
      credentials,
      `/models/${seg(model.namespace)}/${seg(model.name)}/versions`,
      { method: 'POST', body: request },
    ))!;
  }

  private async fetch(
    credentials: BackstageCredentials,
    path: string,
    init?: { method?: string; body?: unknown },
  ): Promise<Response> {
    const baseUrl = await this.options.discovery.getBaseUrl(PLUGIN_ID);
    const { token } = await this.options.auth.getPluginRequestToken({
      onBehalfOf: credentials,
      targetPluginId: PLUGIN_ID,
    });
    return fetch(`${baseUrl}${path}`, {
      method: init?.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init?.body ? { 'content-type': 'application/json' } : {}),
      },
      body: init?.body ? JSON.stringify(init.body) : undefined,
    });
  }

  private async request<T>(
    credentials: BackstageCredentials,
    path: string,
    options?: { method?: string; body?: unknown; allow404?: boolean },
  ): Promise<T | undefined> {
    const res = await this.fetch(credentials, path, options);
    if (options?.allow404 && res.status === 404) {
      return undefined;
    }
    if (!res.ok) {
      throw await ResponseError.fromResponse(res);
    }
    return (await res.json()) as T;
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function versionPath(model: ModelRefParts & { label: string }): string {
  return `/models/${seg(model.namespace)}/${seg(model.name)}/versions/${seg(
    model.label,
  )}`;
}
