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
import {
  filePath,
  modelPath,
  ModelHubHttp,
  toQueryString,
  versionPath,
} from './http';
import { checksWithWaivers, HistoryEntry, toReviews } from './reviewViews';

/**
 * The HTTP client of the Model Hub backend.
 *
 * @public
 */
export class ModelHubClient implements ModelHubApi {
  private readonly http: ModelHubHttp;

  constructor(options: { discoveryApi: DiscoveryApi; fetchApi: FetchApi }) {
    this.http = new ModelHubHttp(options);
  }

  async listModels(
    request: ListModelsRequest = {},
  ): Promise<Page<HubModelSummary>> {
    return this.http.request('GET', '/models', { query: { ...request } });
  }

  async getModel(model: ModelRef): Promise<HubModelWithVersions> {
    return this.http.request('GET', modelPath(model));
  }

  async createVersion(
    model: ModelRef,
    request: CreateVersionRequest,
  ): Promise<HubVersion> {
    return this.http.request('POST', `${modelPath(model)}/versions`, {
      body: request,
    });
  }

  async getVersion(model: ModelRef, label: string): Promise<HubVersion> {
    return this.http.request('GET', versionPath(model, label));
  }

  async listFiles(model: ModelRef, label: string): Promise<HubFileList> {
    return this.http.request('GET', `${versionPath(model, label)}/files`);
  }

  async getFileUrl(
    model: ModelRef,
    label: string,
    path: string,
  ): Promise<string> {
    const base = await this.http.baseUrl();
    return `${base}${versionPath(model, label)}/files/${filePath(path)}`;
  }

  async downloadFile(
    model: ModelRef,
    label: string,
    path: string,
  ): Promise<Blob> {
    const res = await this.http.fetch(
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
    const res = await this.http.fetch(
      'GET',
      `${versionPath(model, label)}/files/${filePath(path)}`,
      { headers: { range: `bytes=0-${maxBytes - 1}` } },
    );
    return res.text();
  }

  async deleteFile(model: ModelRef, label: string, path: string) {
    await this.http.fetch(
      'DELETE',
      `${versionPath(model, label)}/files/${filePath(path)}`,
    );
  }

  async deleteVersion(model: ModelRef, label: string) {
    await this.http.fetch('DELETE', versionPath(model, label));
  }

  async deleteModel(model: ModelRef) {
    await this.http.fetch('DELETE', modelPath(model));
  }

  async updateModel(
    model: ModelRef,
    request: UpdateModelRequest,
  ): Promise<HubModel> {
    return this.http.request('PATCH', modelPath(model), { body: request });
  }

  async downloadFromHuggingFace(
    repoId: string,
    options: { version?: string; files?: string[] },
  ): Promise<{ jobId: string | null }> {
    return this.http.request(
      'POST',
      `/huggingface/repos/${filePath(repoId)}/download`,
      { body: options },
    );
  }

  async triggerSync(
    model: ModelRef,
    options?: { revision?: string },
  ): Promise<HubJob> {
    return this.http.request('POST', `${modelPath(model)}/sync`, {
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
    return toReviews(
      await this.http.items<HistoryEntry>(
        `${versionPath(model, label)}/history`,
      ),
    );
  }

  async listChecks(model: ModelRef, label: string): Promise<HubCheck[]> {
    return checksWithWaivers(await this.getVersionReview(model, label));
  }

  async getVersionDiff(
    model: ModelRef,
    label: string,
    options?: { against?: string },
  ): Promise<HubVersionDiff> {
    return this.http.request('GET', `${versionPath(model, label)}/diff`, {
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
    return this.http.items(`${versionPath(model, label)}/comments`);
  }

  async addComment(
    model: ModelRef,
    label: string,
    comment: { body: string; parentId?: string },
  ): Promise<HubComment> {
    const created = await this.http.request<Omit<HubComment, 'replies'>>(
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
    return this.http.request(
      'POST',
      `${versionPath(model, label)}/checks/${encodeURIComponent(check)}/waiver`,
      { body: { reason } },
    );
  }

  async getActiveVersion(model: ModelRef): Promise<HubActiveVersionState> {
    return this.http.request('GET', `${modelPath(model)}/active`);
  }

  async promoteVersion(
    model: ModelRef,
    label: string,
    options?: { expectedActive?: string | null },
  ): Promise<HubActiveVersion> {
    return this.http.request('POST', `${modelPath(model)}/active`, {
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
    return this.http.request('POST', `${modelPath(model)}/active/rollback`, {
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
    return this.http.request('GET', '/audit', { query: { ...request } });
  }

  async listAuditEvents(): Promise<string[]> {
    return this.http.items('/audit/events');
  }

  async exportAudit(
    request: Omit<ListAuditRequest, 'offset' | 'limit'> = {},
  ): Promise<{ blob: Blob; filename: string; truncated: boolean }> {
    const res = await this.http.fetch('GET', '/audit/export', {
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
    return this.http.items('/namespaces');
  }

  async getScanStatus(): Promise<HubScanStatus> {
    return this.http.request('GET', '/scan');
  }

  async startLocalScan(
    request: { path?: string; owner?: string } = {},
  ): Promise<{ jobId: string; job: HubJob }> {
    return this.http.request('POST', '/scan', { body: request });
  }

  async getVersionReview(
    model: ModelRef,
    label: string,
  ): Promise<HubVersionReview> {
    return this.http.request('GET', `${versionPath(model, label)}/review`);
  }

  async listApprovals(
    request: ListApprovalsRequest = {},
  ): Promise<Page<HubApprovalItem>> {
    return this.http.request('GET', '/reviews', { query: { ...request } });
  }

  async listJobs(request: ListJobsRequest = {}): Promise<Page<HubJob>> {
    return this.http.request('GET', '/jobs', { query: { ...request } });
  }

  async getJob(id: string): Promise<HubJob> {
    return this.http.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  async getJobLogs(
    id: string,
    options?: { after?: number; limit?: number },
  ): Promise<HubJobLog[]> {
    return this.http.items(`/jobs/${encodeURIComponent(id)}/logs`, {
      after: options?.after,
      limit: options?.limit,
    });
  }

  async retryJob(id: string): Promise<HubJob> {
    return this.http.request('POST', `/jobs/${encodeURIComponent(id)}/retry`);
  }

  async cancelJob(id: string): Promise<HubJob> {
    return this.http.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  async getStats(): Promise<HubStats> {
    return this.http.request('GET', '/stats');
  }

  async getStatsHistory(options?: { days?: number }): Promise<HubStatsPoint[]> {
    return this.http.items('/stats/history', { days: options?.days });
  }

  async listActivity(options?: { limit?: number }): Promise<HubActivity[]> {
    return this.http.items('/activity', { limit: options?.limit });
  }

  async previewHuggingFaceRepo(
    repoId: string,
    options?: { revision?: string; source?: string },
  ): Promise<HfRepoPreview> {
    return this.http.request(
      'GET',
      `/huggingface/preview/${filePath(repoId)}`,
      {
        query: { revision: options?.revision, source: options?.source },
      },
    );
  }

  async getHuggingFaceRepo(
    repoId: string,
    options?: { source?: string },
  ): Promise<HfRepo> {
    return this.http.request('GET', `/huggingface/repos/${filePath(repoId)}`, {
      query: { source: options?.source },
    });
  }

  async importHuggingFaceRepo(
    request: HfImportRequest,
  ): Promise<HfImportResult> {
    return this.http.request('POST', '/huggingface/repos', { body: request });
  }

  async listHuggingFaceRepos(options?: {
    offset?: number;
    limit?: number;
    syncState?: Array<HfRepo['syncState']>;
  }): Promise<Page<HfRepo>> {
    return this.http.request('GET', '/huggingface/repos', {
      query: {
        offset: options?.offset,
        limit: options?.limit,
        syncState: options?.syncState,
      },
    });
  }

  async getUploadEndpoint(): Promise<string> {
    return `${await this.http.baseUrl()}/uploads`;
  }

  async getPackageUploadUrl(model: ModelRef, label?: string): Promise<string> {
    const base = await this.http.baseUrl();
    return `${base}${modelPath(model)}/packages${toQueryString({ label })}`;
  }

  async getMirrorEndpoint(): Promise<string> {
    return `${await this.http.baseUrl()}/hf`;
  }

  async listSources(): Promise<Page<HubSource>> {
    return this.http.request('GET', '/sources');
  }

  async listSourceModels(
    name: string,
    options: { offset?: number; limit?: number } = {},
  ): Promise<Page<HubSourceReference>> {
    return this.http.request(
      'GET',
      `/sources/${encodeURIComponent(name)}/models`,
      {
        query: { ...options },
      },
    );
  }

  async getSourceOfModel(model: ModelRef): Promise<HubSource | undefined> {
    try {
      return await this.http.request(
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
    return this.http.request(
      'POST',
      `/sources/${encodeURIComponent(name)}/check`,
    );
  }

  async createSource(request: CreateSourceRequest): Promise<HubSource> {
    return this.http.request('POST', '/sources', { body: request });
  }

  async deleteSource(name: string): Promise<void> {
    await this.http.request('DELETE', `/sources/${encodeURIComponent(name)}`);
  }

  private async transition(
    model: ModelRef,
    label: string,
    body: { action: TransitionAction; comment?: string; revision?: number },
  ): Promise<HubTransitionResult> {
    return this.http.request(
      'POST',
      `${versionPath(model, label)}/transitions`,
      {
        body,
      },
    );
  }
}
