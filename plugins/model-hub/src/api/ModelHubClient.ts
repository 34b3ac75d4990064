import { parseEntityRef } from '@backstage/catalog-model';
import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type { ModelHubApi, ModelRef } from './ModelHubApi';
import type {
  CreateVersionRequest,
  HfImportRequest,
  HfImportResult,
  HfRepo,
  HfRepoPreview,
  HubActiveVersion,
  HubActiveVersionState,
  HubActivity,
  HubApprovalItem,
  HubAuditEntry,
  HubCheck,
  HubCheckWaiver,
  HubComment,
  HubFileList,
  HubJob,
  HubJobLog,
  HubModel,
  HubModelSummary,
  HubModelWithVersions,
  HubReview,
  HubScanStatus,
  HubStats,
  HubStatsPoint,
  HubTransitionResult,
  HubVersion,
  HubVersionDiff,
  HubVersionReview,
  TransitionAction,
  ListApprovalsRequest,
  ListAuditRequest,
  ListJobsRequest,
  ListModelsRequest,
  Page,
  ReviewDecision,
  UpdateModelRequest,
} from './types';
import type {
  CreateSourceRequest,
  HubSource,
  HubSourceReference,
} from './sourceTypes';

type QueryValue = string | number | boolean | undefined | null;
type Query = Record<string, QueryValue | QueryValue[]>;

/** Builds a query string; arrays become repeated parameters. */
function toQueryString(query?: Query): string {
  if (!query) {
    return '';
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v !== undefined && v !== null && v !== '') {
        params.append(key, String(v));
      }
    }
  }
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}

function modelPath(model: ModelRef): string {
  const { namespace, name } =
    typeof model === 'string'
      ? parseEntityRef(model, { defaultKind: 'model' })
      : model;
  return `/models/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

function versionPath(model: ModelRef, label: string): string {
  return `${modelPath(model)}/versions/${encodeURIComponent(label)}`;
}

/** Encodes each segment of a `/`-separated file path. */
function filePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * The HTTP client of the Model Hub backend.
 *
 * @public
 */
export class ModelHubClient implements ModelHubApi {
  private readonly discoveryApi: DiscoveryApi;
  private readonly fetchApi: FetchApi;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  async listModels(
    request: ListModelsRequest = {},
  ): Promise<Page<HubModelSummary>> {
    return this.request('GET', '/models', { query: { ...request } });
  }

  async getModel(model: ModelRef): Promise<HubModelWithVersions> {
    return this.request('GET', modelPath(model));
  }

  async createVersion(
    model: ModelRef,
    request: CreateVersionRequest,
  ): Promise<HubVersion> {
    return this.request('POST', `${modelPath(model)}/versions`, {
      body: request,
    });
  }

  async getVersion(model: ModelRef, label: string): Promise<HubVersion> {
    return this.request('GET', versionPath(model, label));
  }

  async listFiles(model: ModelRef, label: string): Promise<HubFileList> {
    return this.request('GET', `${versionPath(model, label)}/files`);
  }

  async getFileUrl(
    model: ModelRef,
    label: string,
    path: string,
  ): Promise<string> {
    const base = await this.discoveryApi.getBaseUrl('model-hub');
    return `${base}${versionPath(model, label)}/files/${filePath(path)}`;
  }

  async downloadFile(
    model: ModelRef,
    label: string,
    path: string,
  ): Promise<Blob> {
    const res = await this.fetch(
      'GET',
      `${versionPath(model, label)}/files/${filePath(path)}`,
    );
    return res.blob();
  }

  async readTextFile(
    model: ModelRef,
    label: string,
    path: string,
    options?: { maxBytes?: number },
  ): Promise<string> {
    const maxBytes = options?.maxBytes ?? 256 * 1024;
    const res = await this.fetch(
      'GET',
      `${versionPath(model, label)}/files/${filePath(path)}`,
      { headers: { range: `bytes=0-${maxBytes - 1}` } },
    );
    return res.text();
  }

  async deleteFile(model: ModelRef, label: string, path: string) {
    await this.fetch(
      'DELETE',
      `${versionPath(model, label)}/files/${filePath(path)}`,
    );
  }

  async deleteVersion(model: ModelRef, label: string) {
    await this.fetch('DELETE', versionPath(model, label));
  }

  async deleteModel(model: ModelRef) {
    await this.fetch('DELETE', modelPath(model));
  }

  async updateModel(
    model: ModelRef,
    request: UpdateModelRequest,
  ): Promise<HubModel> {
    return this.request('PATCH', modelPath(model), { body: request });
  }

  async downloadFromHuggingFace(
    repoId: string,
    options: { version?: string; files?: string[] },
  ): Promise<{ jobId: string | null }> {
    return this.request(
      'POST',
      `/huggingface/repos/${filePath(repoId)}/download`,
      { body: options },
    );
  }

  async triggerSync(
    model: ModelRef,
    options?: { revision?: string },
  ): Promise<HubJob> {
    return this.request('POST', `${modelPath(model)}/sync`, {
      body: options?.revision ? { revision: options.revision } : {},
    });
  }

  async submitVersion(
    model: ModelRef,
    label: string,
    options?: { comment?: string; revision?: number },
  ): Promise<HubTransitionResult> {
    return this.transition(model, label, { action: 'submit', ...options });
  }

  async reviewVersion(
    model: ModelRef,
    label: string,
    review: { decision: ReviewDecision; comment?: string; revision?: number },
  ): Promise<HubTransitionResult> {
    const { decision, ...rest } = review;
    return this.transition(model, label, { action: decision, ...rest });
  }

  async listReviews(model: ModelRef, label: string): Promise<HubReview[]> {
    const res = await this.request<{
      items: Array<{
        id: number;
        eventId: string;
        actor: string;
        meta?: Record<string, unknown>;
        createdAt: string;
      }>;
    }>('GET', `${versionPath(model, label)}/history`);
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return res.items.map(e => ({
      id: e.id,
      action: str(e.meta?.action) ?? e.eventId.replace(/^version-/, ''),
      actor: e.actor,
      comment: str(e.meta?.comment),
      fromState: str(e.meta?.from) as HubReview['fromState'],
      toState: str(e.meta?.to) as HubReview['toState'],
      createdAt: e.createdAt,
    }));
  }

  async listChecks(model: ModelRef, label: string): Promise<HubCheck[]> {
    const review = await this.getVersionReview(model, label);
    const waivers = new Map(
      (review.checks?.waivers ?? []).map(w => [w.checkName, w]),
    );
    return (review.checks?.items ?? []).map(c => {
      const waiver = waivers.get(c.name);
      return waiver
        ? {
            ...c,
            waiver: {
              reason: waiver.reason,
              waivedBy: waiver.waivedBy,
              ...(waiver.lapsed ? { lapsed: true } : {}),
            },
          }
        : c;
    });
  }

  async getVersionDiff(
    model: ModelRef,
    label: string,
    options?: { against?: string },
  ): Promise<HubVersionDiff> {
    return this.request('GET', `${versionPath(model, label)}/diff`, {
      query: { against: options?.against },
    });
  }

  async transitionVersion(
    model: ModelRef,
    label: string,
    request: { action: TransitionAction; comment?: string; revision?: number },
  ): Promise<HubTransitionResult> {
    return this.transition(model, label, request);
  }

  async listComments(model: ModelRef, label: string): Promise<HubComment[]> {
    const res = await this.request<{ items: HubComment[] }>(
      'GET',
      `${versionPath(model, label)}/comments`,
    );
    return res.items;
  }

  async addComment(
    model: ModelRef,
    label: string,
    comment: { body: string; parentId?: string },
  ): Promise<HubComment> {
    const created = await this.request<Omit<HubComment, 'replies'>>(
      'POST',
      `${versionPath(model, label)}/comments`,
      { body: comment },
    );
    return { replies: [], ...created };
  }

  async waiveCheck(
    model: ModelRef,
    label: string,
    check: string,
    reason: string,
  ): Promise<HubCheckWaiver> {
    return this.request(
      'POST',
      `${versionPath(model, label)}/checks/${encodeURIComponent(check)}/waiver`,
      { body: { reason } },
    );
  }

  async getActiveVersion(model: ModelRef): Promise<HubActiveVersionState> {
    return this.request('GET', `${modelPath(model)}/active`);
  }

  async promoteVersion(
    model: ModelRef,
    label: string,
    options?: { expectedActive?: string | null },
  ): Promise<HubActiveVersion> {
    return this.request('POST', `${modelPath(model)}/active`, {
      body:
        options?.expectedActive === undefined
          ? { label }
          : { label, expectedActive: options.expectedActive },
    });
  }

  async rollbackVersion(
    model: ModelRef,
    options?: { label?: string; expectedActive?: string | null },
  ): Promise<HubActiveVersion> {
    return this.request('POST', `${modelPath(model)}/active/rollback`, {
      body: {
        ...(options?.label ? { label: options.label } : {}),
        ...(options?.expectedActive !== undefined
          ? { expectedActive: options.expectedActive }
          : {}),
      },
    });
  }

  async listAudit(
    request: ListAuditRequest = {},
  ): Promise<Page<HubAuditEntry>> {
    return this.request('GET', '/audit', { query: { ...request } });
  }

  async listAuditEvents(): Promise<string[]> {
    const res = await this.request<{ items: string[] }>('GET', '/audit/events');
    return res.items;
  }

  async exportAudit(
    request: Omit<ListAuditRequest, 'offset' | 'limit'> = {},
  ): Promise<{ blob: Blob; filename: string; truncated: boolean }> {
    const res = await this.fetch('GET', '/audit/export', {
      query: { ...request },
    });
    const disposition = res.headers.get('content-disposition') ?? '';
    const filename =
      /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? 'model-hub-audit.csv';
    return {
      blob: await res.blob(),
      filename,
      truncated: res.headers.get('x-truncated') === 'true',
    };
  }

  async listNamespaces(): Promise<Array<{ namespace: string; count: number }>> {
    const res = await this.request<{
      items: Array<{ namespace: string; count: number }>;
    }>('GET', '/namespaces');
    return res.items;
  }

  async getScanStatus(): Promise<HubScanStatus> {
    return this.request('GET', '/scan');
  }

  async startLocalScan(
    request: { path?: string; owner?: string } = {},
  ): Promise<{ jobId: string; job: HubJob }> {
    return this.request('POST', '/scan', { body: request });
  }

  async getVersionReview(
    model: ModelRef,
    label: string,
  ): Promise<HubVersionReview> {
    return this.request('GET', `${versionPath(model, label)}/review`);
  }

  async listApprovals(
    request: ListApprovalsRequest = {},
  ): Promise<Page<HubApprovalItem>> {
    return this.request('GET', '/reviews', { query: { ...request } });
  }

  async listJobs(request: ListJobsRequest = {}): Promise<Page<HubJob>> {
    return this.request('GET', '/jobs', { query: { ...request } });
  }

  async getJob(id: string): Promise<HubJob> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  async getJobLogs(
    id: string,
    options?: { after?: number; limit?: number },
  ): Promise<HubJobLog[]> {
    const res = await this.request<{ items: HubJobLog[] }>(
      'GET',
      `/jobs/${encodeURIComponent(id)}/logs`,
      { query: { after: options?.after, limit: options?.limit } },
    );
    return res.items;
  }

  async retryJob(id: string): Promise<HubJob> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/retry`);
  }

  async cancelJob(id: string): Promise<HubJob> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  async getStats(): Promise<HubStats> {
    return this.request('GET', '/stats');
  }

  async getStatsHistory(options?: { days?: number }): Promise<HubStatsPoint[]> {
    const res = await this.request<{ items: HubStatsPoint[] }>(
      'GET',
      '/stats/history',
      { query: { days: options?.days } },
    );
    return res.items;
  }

  async listActivity(options?: { limit?: number }): Promise<HubActivity[]> {
    const res = await this.request<{ items: HubActivity[] }>(
      'GET',
      '/activity',
      { query: { limit: options?.limit } },
    );
    return res.items;
  }

  async previewHuggingFaceRepo(
    repoId: string,
    options?: { revision?: string; source?: string },
  ): Promise<HfRepoPreview> {
    return this.request('GET', `/huggingface/preview/${filePath(repoId)}`, {
      query: { revision: options?.revision, source: options?.source },
    });
  }

  async getHuggingFaceRepo(
    repoId: string,
    options?: { source?: string },
  ): Promise<HfRepo> {
    return this.request('GET', `/huggingface/repos/${filePath(repoId)}`, {
      query: { source: options?.source },
    });
  }

  async importHuggingFaceRepo(
    request: HfImportRequest,
  ): Promise<HfImportResult> {
    return this.request('POST', '/huggingface/repos', { body: request });
  }

  async listHuggingFaceRepos(options?: {
    offset?: number;
    limit?: number;
    syncState?: Array<HfRepo['syncState']>;
  }): Promise<Page<HfRepo>> {
    return this.request('GET', '/huggingface/repos', {
      query: {
        offset: options?.offset,
        limit: options?.limit,
        syncState: options?.syncState,
      },
    });
  }

  async getUploadEndpoint(): Promise<string> {
    return `${await this.discoveryApi.getBaseUrl('model-hub')}/uploads`;
  }

  async getPackageUploadUrl(model: ModelRef, label?: string): Promise<string> {
    const base = await this.discoveryApi.getBaseUrl('model-hub');
    return `${base}${modelPath(model)}/packages${toQueryString({ label })}`;
  }

  async getMirrorEndpoint(): Promise<string> {
    return `${await this.discoveryApi.getBaseUrl('model-hub')}/hf`;
  }

  async listSources(): Promise<Page<HubSource>> {
    return this.request('GET', '/sources');
  }

  async listSourceModels(
    name: string,
    options: { offset?: number; limit?: number } = {},
  ): Promise<Page<HubSourceReference>> {
    return this.request('GET', `/sources/${encodeURIComponent(name)}/models`, {
      query: { ...options },
    });
  }

  async getSourceOfModel(model: ModelRef): Promise<HubSource | undefined> {
    try {
      return await this.request(
        'GET',
        `/sources/of-model${modelPath(model).slice('/models'.length)}`,
      );
    } catch (error) {
      // a model that came from no source (uploads, the API)
      if ((error as ResponseError).response?.status === 404) {
        return undefined;
      }
      throw error;
    }
  }

  async checkSource(name: string): Promise<HubSource> {
    return this.request('POST', `/sources/${encodeURIComponent(name)}/check`);
  }

  async createSource(request: CreateSourceRequest): Promise<HubSource> {
    return this.request('POST', '/sources', { body: request });
  }

  async deleteSource(name: string): Promise<void> {
    await this.request('DELETE', `/sources/${encodeURIComponent(name)}`);
  }

  private async transition(
    model: ModelRef,
    label: string,
    body: { action: TransitionAction; comment?: string; revision?: number },
  ): Promise<HubTransitionResult> {
    return this.request('POST', `${versionPath(model, label)}/transitions`, {
      body,
    });
  }

  private async fetch(
    method: string,
    path: string,
    options?: { query?: Query; body?: unknown; headers?: HeadersInit },
  ): Promise<Response> {
    const base = await this.discoveryApi.getBaseUrl('model-hub');
    const headers = new Headers(options?.headers);
    let body: string | undefined;
    if (options?.body !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(options.body);
    }
    const res = await this.fetchApi.fetch(
      `${base}${path}${toQueryString(options?.query)}`,
      { method, headers, body },
    );
    if (!res.ok) {
      throw await ResponseError.fromResponse(res);
    }
    return res;
  }

  private async request<T>(
    method: string,
    path: string,
    options?: { query?: Query; body?: unknown },
  ): Promise<T> {
    const res = await this.fetch(method, path, options);
    if (res.status === 204) {
      return undefined as T;
    }
    return (await res.json()) as T;
  }
}
