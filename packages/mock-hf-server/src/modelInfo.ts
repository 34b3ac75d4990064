/*
 * The model info of a repo at a commit, and the model listing.
 */
import { CommitRecord, MockHub, RepoRecord, StoredFile } from './hub';
import { readAll } from './content';
import { hasRepoAccess } from './coreAccess';
import {
  CoreResponse,
  decodeCursor,
  encodeCursor,
  jsonResponse,
  RouteInput,
  truthy,
} from './coreHttp';

function readJsonFile(commit: CommitRecord, path: string): any {
  const file = commit.files.get(path);
  if (!file || file.size > 1024 * 1024) {
    return undefined;
  }
  try {
    return JSON.parse(readAll(file.source).toString('utf8'));
  } catch {
    return undefined;
  }
}

function infoConfig(
  commit: CommitRecord,
): Record<string, unknown> | undefined {
  const config = readJsonFile(commit, 'config.json') ?? commit.config;
  const modelIndex = readJsonFile(commit, 'model_index.json');
  const tokenizerConfig = readJsonFile(commit, 'tokenizer_config.json');
  const out: Record<string, unknown> = {};
  if (config && typeof config === 'object') {
    if (config.architectures) out.architectures = config.architectures;
    if (config.model_type) out.model_type = config.model_type;
  }
  if (modelIndex && typeof modelIndex === 'object') {
    out.diffusers = { _class_name: modelIndex._class_name };
  }
  if (tokenizerConfig && typeof tokenizerConfig === 'object') {
    const tc: Record<string, unknown> = {};
    for (const key of [
      'bos_token',
      'eos_token',
      'pad_token',
      'unk_token',
      'chat_template',
    ]) {
      if (tokenizerConfig[key] !== undefined) tc[key] = tokenizerConfig[key];
    }
    out.tokenizer_config = tc;
  }
  return Object.keys(out).length ? out : undefined;
}

export function asArray(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function infoTags(repo: RepoRecord, commit: CommitRecord): string[] {
  const card = commit.cardData ?? {};
  const tags = new Set<string>();
  if (repo.libraryName) tags.add(repo.libraryName);
  const paths = [...commit.files.keys()];
  if (paths.some(p => p.endsWith('.safetensors'))) tags.add('safetensors');
  if (paths.some(p => p.endsWith('.onnx'))) tags.add('onnx');
  if (paths.some(p => p.endsWith('.gguf'))) tags.add('gguf');
  const modelType = readJsonFile(commit, 'config.json')?.model_type;
  if (typeof modelType === 'string') tags.add(modelType);
  for (const t of asArray(card.tags)) tags.add(t);
  for (const t of repo.tags) tags.add(t);
  if (repo.pipelineTag) tags.add(repo.pipelineTag);
  for (const l of asArray(card.language)) tags.add(l);
  for (const d of asArray(card.datasets)) tags.add(`dataset:${d}`);
  for (const b of asArray(card.base_model)) tags.add(`base_model:${b}`);
  for (const l of asArray(card.license)) tags.add(`license:${l}`);
  tags.add('region:us');
  return [...tags];
}

function sibling(file: StoredFile, blobs: boolean) {
  if (!blobs) {
    return { rfilename: file.path };
  }
  return {
    rfilename: file.path,
    size: file.size,
    blobId: file.oid,
    ...(file.lfs && {
      lfs: {
        sha256: file.sha256,
        size: file.size,
        pointerSize: file.pointer.length,
      },
    }),
  };
}

/** Builds the full model-info JSON of a repo at a commit. (internal to the mock Hub) */
export function modelInfoJson(
  repo: RepoRecord,
  commit: CommitRecord,
  options: { blobs?: boolean } = {},
): Record<string, unknown> {
  const files = [...commit.files.values()].sort((a, b) =>
    a.path < b.path ? -1 : 1,
  );
  const cardData = commit.cardData;
  const info: Record<string, unknown> = {
    _id: repo.objectId,
    id: repo.id,
    modelId: repo.id,
    author: repo.author,
    sha: commit.id,
    lastModified: commit.date,
    createdAt: repo.createdAt,
    private: repo.privateRepo,
    gated: repo.gated,
    disabled: repo.disabled,
    downloads: repo.downloads,
    downloadsAllTime: repo.downloads * 3,
    likes: repo.likes,
    library_name: repo.libraryName,
    tags: infoTags(repo, commit),
    pipeline_tag: repo.pipelineTag,
    cardData,
    config: infoConfig(commit),
    'model-index': cardData?.['model-index'],
    siblings: files.map(f => sibling(f, options.blobs ?? false)),
    spaces: [],
    safetensors: repo.safetensors,
    usedStorage: files.reduce((n, f) => n + f.size, 0),
    ...repo.extraInfo,
  };
  for (const key of Object.keys(info)) {
    if (info[key] === undefined) {
      delete info[key];
    }
  }
  return info;
}

function selectExpanded(
  info: Record<string, unknown>,
  expand: string[],
): Record<string, unknown> {
  if (expand.length === 0) {
    return info;
  }
  const out: Record<string, unknown> = { _id: info._id, id: info.id };
  for (const key of expand) {
    if (info[key] !== undefined) {
      out[key] = info[key];
    }
  }
  return out;
}

export function modelInfoResponse(
  repo: RepoRecord,
  commit: CommitRecord,
  params: URLSearchParams,
): CoreResponse {
  const info = modelInfoJson(repo, commit, {
    blobs: truthy(params.get('blobs')),
  });
  return jsonResponse(200, selectExpanded(info, params.getAll('expand')));
}

export function listModels(hub: MockHub, input: RouteInput): CoreResponse {
  const params = input.url.searchParams;
  const search = params.get('search')?.toLowerCase();
  const author = params.get('author');
  const filters = params.getAll('filter').flatMap(f => f.split(','));
  const pipelineTag = params.get('pipeline_tag');
  const expand = params.getAll('expand');
  const full = truthy(params.get('full'));
  const limitParam = Number(params.get('limit'));
  const pageSize =
    Number.isSafeInteger(limitParam) && limitParam > 0
      ? limitParam
      : hub.pageSize.models;
  const sort = params.get('sort');
  const direction = params.get('direction') === '1' ? 1 : -1;

  let items = [...hub.repos.values()]
    .filter(r => !r.privateRepo || hasRepoAccess(r, input.auth))
    .filter(r => !search || r.id.toLowerCase().includes(search))
    .filter(r => !author || r.author === author)
    .map(r => {
      const commit = r.commits.get(hub.headSha(r.id))!;
      return { repo: r, commit, info: modelInfoJson(r, commit) };
    })
    .filter(({ info }) => !pipelineTag || info.pipeline_tag === pipelineTag)
    .filter(({ info }) =>
      filters.every(
        f =>
          (info.tags as string[]).includes(f) ||
          info.library_name === f ||
          info.id === f,
      ),
    );
  if (sort && sort !== 'trendingScore') {
    const key = sort === 'id' ? 'id' : sort;
    items = items.sort((a, b) => {
      const va = a.info[key] as any;
      const vb = b.info[key] as any;
      if (va === vb) return a.repo.id < b.repo.id ? -1 : 1;
      return (va < vb ? -1 : 1) * direction;
    });
  }
  const total = items.length;
  const offset = decodeCursor(params.get('cursor'));
  const page = items.slice(offset, offset + pageSize).map(({ info }) => {
    if (expand.length) {
      return selectExpanded(info, expand);
    }
    const summary: Record<string, unknown> = {
      _id: info._id,
      id: info.id,
      likes: info.likes,
      trendingScore: 0,
      private: info.private,
      downloads: info.downloads,
      tags: info.tags,
      pipeline_tag: info.pipeline_tag,
      library_name: info.library_name,
      createdAt: info.createdAt,
      modelId: info.id,
    };
    if (full) {
      Object.assign(summary, {
        author: info.author,
        sha: info.sha,
        lastModified: info.lastModified,
        gated: info.gated,
        disabled: info.disabled,
        siblings: info.siblings,
      });
    }
    for (const key of Object.keys(summary)) {
      if (summary[key] === undefined) delete summary[key];
    }
    return summary;
  });
  const headers: Record<string, string> = { 'X-Total-Count': String(total) };
  if (offset + pageSize < total) {
    const next = new URLSearchParams(params);
    next.set('cursor', encodeCursor(offset + pageSize));
    headers.Link = `<${input.baseUrl}/api/models?${next}>; rel="next"`;
  }
  return jsonResponse(200, page, headers);
}
