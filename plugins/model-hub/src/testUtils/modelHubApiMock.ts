import { createApiFactory } from '@backstage/core-plugin-api';
import { ModelHubApi, modelHubApiRef } from '../api/ModelHubApi';
import type {
  HfRepo,
  HubFileList,
  HubJob,
  HubModelSummary,
  HubModelWithVersions,
  HubStats,
  HubVersion,
  TransitionAction,
  VersionState,
} from '../api/types';

const emptyPage = { items: [], totalCount: 0, offset: 0, limit: 20 };

const TRANSITION_TARGETS: Record<TransitionAction, VersionState> = {
  submit: 'in_review',
  approve: 'approved',
  request_changes: 'changes_requested',
  reject: 'rejected',
  deprecate: 'deprecated',
  archive: 'archived',
  revoke: 'rejected',
};

/**
 * Example objects of the Model Hub API, for tests.
 *
 * @public
 */
export const modelHubFixtures = {
  modelSummary(overrides: Partial<HubModelSummary> = {}): HubModelSummary {
    const name = overrides.name ?? 'tiny-llm';
    return {
      id: `id-${name}`,
      entityRef: `model:default/${name}`,
      namespace: 'default',
      name,
      title: 'Tiny LLM',
      description: 'A tiny language model',
      type: 'llm',
      task: 'text-generation',
      format: 'safetensors',
      license: 'apache-2.0',
      lifecycle: 'experimental',
      owner: 'group:default/ml-engineers',
      sourceType: 'huggingface',
      source: { huggingface: { repo: 'acme/tiny-llm', revision: 'main' } },
      tags: ['chat'],
      createdBy: 'user:default/alice',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-02T00:00:00.000Z',
      versionCount: 1,
      latestVersion: {
        label: '1.0',
        state: 'approved',
        createdAt: '2026-01-02T00:00:00.000Z',
      },
      ...overrides,
    };
  },
  model(overrides: Partial<HubModelWithVersions> = {}): HubModelWithVersions {
    const {
      versionCount: _c,
      latestVersion: _l,
      activeVersion: _a,
      worstState: _w,
      ...model
    } = modelHubFixtures.modelSummary(overrides as Partial<HubModelSummary>);
    return { ...model, versions: [modelHubFixtures.version()], ...overrides };
  },
  version(overrides: Partial<HubVersion> = {}): HubVersion {
    return {
      id: `v-${overrides.label ?? '1.0'}`,
      modelId: 'id-tiny-llm',
      label: '1.0',
      state: 'approved',
      sourceType: 'huggingface',
      resolvedCommit: '0123456789abcdef0123456789abcdef01234567',
      createdBy: 'user:default/alice',
      createdAt: '2026-01-02T00:00:00.000Z',
      updatedAt: '2026-01-02T00:00:00.000Z',
      revision: 1,
      fileCount: 3,
      totalSize: 4096 + 512 + 100,
      ...overrides,
    };
  },
  files(): HubFileList {
    const f = (
      path: string,
      size: number,
      kind: HubFileList['files'][number]['kind'],
      location: 'local' | 'remote' = 'local',
    ) => ({
      path,
      size,
      kind,
      location,
      sha256: `${path.length.toString(16).padStart(2, '0')}${'a'.repeat(62)}`,
    });
    const files = [
      f('README.md', 100, 'docs'),
      f('config.json', 512, 'config'),
      f('weights/model.safetensors', 4096, 'weights', 'remote'),
    ];
    return {
      files,
      tree: {
        type: 'directory',
        name: '',
        path: '',
        children: [
          { type: 'file', name: 'README.md', ...files[0] },
          { type: 'file', name: 'config.json', ...files[1] },
          {
            type: 'directory',
            name: 'weights',
            path: 'weights',
            children: [
              { type: 'file', name: 'model.safetensors', ...files[2] },
            ],
          },
        ],
      },
    };
  },
  job(overrides: Partial<HubJob> = {}): HubJob {
    return {
      id: 'job-1',
      type: 'huggingface-sync',
      state: 'running',
      modelRef: 'model:default/tiny-llm',
      params: { repo: 'acme/tiny-llm', revision: 'main' },
      progress: { fraction: 0.5, bytesDone: 2048, bytesTotal: 4096 },
      attempts: 1,
      maxAttempts: 3,
      createdBy: 'user:default/alice',
      createdAt: '2026-01-02T00:00:00.000Z',
      ...overrides,
    };
  },
  hfRepo(overrides: Partial<HfRepo> = {}): HfRepo {
    return {
      id: 'hf-1',
      modelId: 'id-tiny-llm',
      modelRef: 'model:default/tiny-llm',
      repoId: 'acme/tiny-llm',
      revision: 'main',
      syncState: 'synced',
      lastSyncedCommit: '0123456789abcdef0123456789abcdef01234567',
      drift: false,
      createdBy: 'user:default/alice',
      createdAt: '2026-01-02T00:00:00.000Z',
      updatedAt: '2026-01-02T00:00:00.000Z',
      ...overrides,
    };
  },
  stats(overrides: Partial<HubStats> = {}): HubStats {
    return {
      models: 12,
      versions: {
        total: 20,
        byState: { draft: 3, in_review: 2, approved: 14, rejected: 1 },
      },
      storage: { blobs: 40, bytes: 5 * 1024 ** 3 },
      jobs: { active: 2, failed: 1 },
      ...overrides,
    };
  },
};

/** Answers of the mock when a test does not override a method. */
function defaults(): { [K in keyof ModelHubApi]: ModelHubApi[K] } {
  return {
    listModels: async () => emptyPage,
    getModel: async () => modelHubFixtures.model(),
    createVersion: async (_m, r) =>
      modelHubFixtures.version({ label: r.label }),
    getVersion: async (_m, label) => modelHubFixtures.version({ label }),
    listFiles: async () => ({
      files: [],
      tree: { type: 'directory', name: '', path: '', children: [] },
    }),
    getFileUrl: async (_m, label, path) =>
      `http://localhost:7007/api/model-hub/models/default/model/versions/${label}/files/${path}`,
    downloadFile: async () => new Blob(['']),
    readTextFile: async () => '',
    deleteFile: async () => undefined,
    deleteVersion: async () => undefined,
    deleteModel: async () => undefined,
    updateModel: async (_m, request) => {
      const { expectedUpdatedAt: _e, ...patch } = request;
      const { versions: _v, ...model } = modelHubFixtures.model();
      return {
        ...model,
        ...Object.fromEntries(
          Object.entries(patch).map(([k, v]) => [k, v ?? undefined]),
        ),
      };
    },
    downloadFromHuggingFace: async () => ({ jobId: 'job-2' }),
    triggerSync: async () => modelHubFixtures.job(),
    submitVersion: async (_m, label) => ({
      version: modelHubFixtures.version({ label, state: 'in_review' }),
      from: 'draft',
      to: 'in_review',
      round: 1,
      approvals: { count: 0, required: 1, reviewers: [] },
    }),
    reviewVersion: async (_m, label) => ({
      version: modelHubFixtures.version({ label, state: 'approved' }),
      from: 'in_review',
      to: 'approved',
      round: 1,
      approvals: { count: 1, required: 1, reviewers: ['user:default/bob'] },
    }),
    listReviews: async () => [],
    listChecks: async () => [],
    getVersionDiff: async (_m, _l, options) => ({
      ...(options?.against
        ? { base: { label: options.against, state: 'approved' } }
        : {}),
      files: { added: [], removed: [], changed: [], unchanged: 0 },
    }),
    getVersionReview: async (_m, label) => ({
      version: modelHubFixtures.version({ label, state: 'in_review' }),
      round: 1,
      approvals: { count: 0, required: 1, reviewers: [] },
      decisions: [],
      checks: { items: [], waivers: [], blocking: [] },
    }),
    transitionVersion: async (_m, label, r) => {
      const to = TRANSITION_TARGETS[r.action];
      return {
        version: modelHubFixtures.version({ label, state: to }),
        from: 'draft',
        to,
        round: 1,
        approvals: { count: 0, required: 1, reviewers: [] },
      };
    },
    listComments: async () => [],
    addComment: async (_m, _l, c) => ({
      id: 'c-new',
      parentId: c.parentId,
      author: 'user:default/alice',
      body: c.body,
      createdAt: '2026-01-03T00:00:00.000Z',
      replies: [],
    }),
    waiveCheck: async (_m, _l, check, reason) => ({
      checkName: check,
      reason,
      waivedBy: 'user:default/admin',
      lapsed: false,
      createdAt: '2026-01-03T00:00:00.000Z',
    }),
    getActiveVersion: async () => ({ active: null, history: [] }),
    promoteVersion: async (_m, label) => ({
      versionId: `v-${label}`,
      label,
      state: 'approved',
      promotedBy: 'user:default/alice',
      promotedAt: '2026-01-03T00:00:00.000Z',
    }),
    rollbackVersion: async (_m, o) => ({
      versionId: `v-${o?.label ?? '1.0'}`,
      label: o?.label ?? '1.0',
      state: 'approved',
      promotedBy: 'user:default/alice',
      promotedAt: '2026-01-03T00:00:00.000Z',
    }),
    listApprovals: async () => emptyPage,
    listAudit: async () => emptyPage,
    listAuditEvents: async () => [],
    exportAudit: async () => ({
      blob: new Blob([
        'id,createdAt,eventId,actor,modelRef,versionLabel,meta\n',
      ]),
      filename: 'model-hub-audit.csv',
      truncated: false,
    }),
    listNamespaces: async () => [{ namespace: 'default', count: 1 }],
    getScanStatus: async () => ({ enabled: true, root: '/srv/models' }),
    startLocalScan: async () => ({
      jobId: 'scan-1',
      job: modelHubFixtures.job({
        id: 'scan-1',
        type: 'local-scan',
        state: 'queued',
        modelRef: undefined,
        params: { path: '.' },
        progress: undefined,
      }),
    }),
    listJobs: async () => emptyPage,
    getJob: async id => modelHubFixtures.job({ id }),
    getJobLogs: async () => [],
    retryJob: async id => modelHubFixtures.job({ id, state: 'queued' }),
    cancelJob: async id => modelHubFixtures.job({ id, state: 'cancelled' }),
    getStats: async () => modelHubFixtures.stats(),
    getStatsHistory: async () => [],
    listActivity: async () => [],
    previewHuggingFaceRepo: async repoId => ({
      repoId,
      revision: 'main',
      files: [],
    }),
    getHuggingFaceRepo: async repoId => modelHubFixtures.hfRepo({ repoId }),
    importHuggingFaceRepo: async r => ({
      model: modelHubFixtures.model({ name: r.repoId.split('/')[1] }),
      repo: modelHubFixtures.hfRepo({ repoId: r.repoId }),
      jobId: 'job-1',
    }),
    listHuggingFaceRepos: async () => emptyPage,
    getUploadEndpoint: async () =>
      'http://localhost:7007/api/model-hub/uploads',
    getPackageUploadUrl: async (_m, label) =>
      `http://localhost:7007/api/model-hub/models/default/tiny-llm/packages${
        label ? `?label=${label}` : ''
      }`,
    getMirrorEndpoint: async () => 'http://localhost:7007/api/model-hub/hf',
    listSources: async () => emptyPage,
    listSourceModels: async () => emptyPage,
    getSourceOfModel: async () => undefined,
    checkSource: async name => {
      throw new Error(`checkSource(${name}) is not mocked`);
    },
    createSource: async request => {
      throw new Error(`createSource(${request.name}) is not mocked`);
    },
    deleteSource: async () => undefined,
  };
}

/**
 * A mock of {@link ModelHubApi} whose methods are all jest mocks: by default
 * they answer empty lists and the fixtures; `partial` overrides them.
 *
 * @public
 */
export function modelHubApiMock(
  partial: Partial<ModelHubApi> = {},
): jest.Mocked<ModelHubApi> {
  const impl = { ...defaults(), ...partial };
  const mock = {} as Record<string, jest.Mock>;
  for (const [key, fn] of Object.entries(impl)) {
    mock[key] = jest.fn(fn as (...args: any[]) => any);
  }
  return mock as unknown as jest.Mocked<ModelHubApi>;
}

/**
 * Same as {@link modelHubApiMock}.
 *
 * @public
 */
modelHubApiMock.mock = modelHubApiMock;

/**
 * An API factory of the mock, for test apps.
 *
 * @public
 */
modelHubApiMock.factory = (partial: Partial<ModelHubApi> = {}) =>
  createApiFactory({
    api: modelHubApiRef,
    deps: {},
    factory: () => modelHubApiMock(partial),
  });
