/*
 * The stored form of the mock Hub's repos and commits: files with their
 * content hashes, commit and repo records, git tree ids, and the files a
 * repo spec or commit spec makes.
 */
import { createHash } from 'node:crypto';
import { renderModelCard } from './card';
import {
  ContentSource,
  createContentSource,
  gitBlobSha1,
  hashContent,
  isGenerated,
  lfsPointer,
} from './content';
import { CommitSpec, GatedMode, RepoFileSpec, RepoSpec } from './hubTypes';
/** Internal to the mock Hub; not part of the package API. */
export class StoredFile {
  readonly path: string;
  readonly lfs: boolean;
  readonly source: ContentSource;
  private hashes?: { sha256: string; gitSha1: string };
  private pointerCache?: Buffer;

  constructor(path: string, source: ContentSource, lfs: boolean) {
    this.path = path;
    this.source = source;
    this.lfs = lfs;
  }

  get size(): number {
    return this.source.size;
  }

  private ensureHashes() {
    if (!this.hashes) {
      this.hashes = hashContent(this.source);
    }
    return this.hashes;
  }

  /** sha256 of the content. */
  get sha256(): string {
    return this.ensureHashes().sha256;
  }

  /** The LFS pointer file (LFS files only). */
  get pointer(): Buffer {
    if (!this.pointerCache) {
      this.pointerCache = Buffer.from(lfsPointer(this.sha256, this.size));
    }
    return this.pointerCache;
  }

  /** The git blob sha1: of the content, or of the pointer for LFS files. */
  get oid(): string {
    return this.lfs ? gitBlobSha1(this.pointer) : this.ensureHashes().gitSha1;
  }

  /** The ETag the Hub sends on resolve: sha256 for LFS, the git oid otherwise. */
  get etag(): string {
    return this.lfs ? this.sha256 : this.oid;
  }

  /** Whether the hashes have been computed already. */
  get hashed(): boolean {
    return this.hashes !== undefined;
  }
}

/** Internal to the mock Hub; not part of the package API. */
export interface CommitRecord {
  id: string;
  parent?: string;
  title: string;
  message: string;
  date: string;
  author: string;
  files: Map<string, StoredFile>;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
  /** Lazily computed directory index. */
  dirs?: Map<string, Set<string>>;
  treeOids?: Map<string, string>;
}

/** Internal to the mock Hub; not part of the package API. */
export interface RepoRecord {
  id: string;
  author: string;
  privateRepo: boolean;
  gated: GatedMode;
  disabled: boolean;
  pipelineTag?: string;
  libraryName?: string;
  tags: string[];
  downloads: number;
  likes: number;
  createdAt: string;
  defaultBranch: string;
  branches: Map<string, string>;
  gitTags: Map<string, string>;
  commits: Map<string, CommitRecord>;
  safetensors?: { parameters: Record<string, number>; total: number };
  extraInfo?: Record<string, unknown>;
  objectId: string;
}

export const LFS_EXTENSIONS = new Set([
  '7z',
  'arrow',
  'bin',
  'bz2',
  'ckpt',
  'ftz',
  'gguf',
  'gz',
  'h5',
  'joblib',
  'mlmodel',
  'model',
  'msgpack',
  'npy',
  'npz',
  'onnx',
  'ot',
  'parquet',
  'pb',
  'pickle',
  'pkl',
  'pt',
  'pth',
  'rar',
  'safetensors',
  'tar',
  'tflite',
  'tgz',
  'wasm',
  'xz',
  'zip',
  'zst',
]);

/** Whether a path is stored in LFS by default (HF's default .gitattributes). */
export function isLfsByDefault(path: string): boolean {
  const ext = path.split('.').pop()?.toLowerCase() ?? '';
  return LFS_EXTENSIONS.has(ext) || path.endsWith('tfevents');
}

export const SHA_RE = /^[0-9a-f]{40}$/;
export const BASE_DATE = Date.UTC(2025, 0, 6, 12, 0, 0);

export function normalizePath(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!p || p.split('/').some(s => s === '' || s === '.' || s === '..')) {
    throw new TypeError(`Invalid file path '${path}'`);
  }
  return p;
}

export function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function makeFile(spec: RepoFileSpec): StoredFile {
  const path = normalizePath(spec.path);
  const source = createContentSource(spec.content);
  const lfs = spec.lfs ?? (isGenerated(spec.content) || isLfsByDefault(path));
  return new StoredFile(path, source, lfs);
}

export function gitTreeSha(
  entries: Array<{ name: string; dir: boolean; oid: string }>,
): string {
  const sorted = [...entries].sort((a, b) => {
    const ka = a.dir ? `${a.name}/` : a.name;
    const kb = b.dir ? `${b.name}/` : b.name;
    return Buffer.compare(Buffer.from(ka), Buffer.from(kb));
  });
  const parts = sorted.map(e =>
    Buffer.concat([
      Buffer.from(`${e.dir ? '40000' : '100644'} ${e.name}\0`),
      Buffer.from(e.oid, 'hex'),
    ]),
  );
  const body = Buffer.concat(parts);
  return createHash('sha1')
    .update(`tree ${body.length}\0`)
    .update(body)
    .digest('hex');
}

/** Builds (once) the directory index of a commit. (internal to the mock Hub) */
export function commitDirs(commit: CommitRecord): Map<string, Set<string>> {
  if (!commit.dirs) {
    const dirs = new Map<string, Set<string>>([['', new Set()]]);
    for (const path of commit.files.keys()) {
      const segments = path.split('/');
      let parent = '';
      for (let i = 0; i < segments.length; i++) {
        const child = segments.slice(0, i + 1).join('/');
        dirs.get(parent)!.add(child);
        if (i < segments.length - 1) {
          if (!dirs.has(child)) {
            dirs.set(child, new Set());
          }
          parent = child;
        }
      }
    }
    commit.dirs = dirs;
  }
  return commit.dirs;
}

/** The git tree sha1 of a directory ('' = root) of a commit. (internal to the mock Hub) */
export function treeOid(commit: CommitRecord, dir: string): string {
  commit.treeOids ??= new Map();
  const cached = commit.treeOids.get(dir);
  if (cached) {
    return cached;
  }
  const dirs = commitDirs(commit);
  const children = dirs.get(dir);
  if (!children) {
    throw new Error(`No directory ${dir}`);
  }
  const entries = [...children].map(child => {
    const name = child.slice(dir ? dir.length + 1 : 0);
    if (dirs.has(child)) {
      return { name, dir: true, oid: treeOid(commit, child) };
    }
    return { name, dir: false, oid: commit.files.get(child)!.oid };
  });
  const oid = gitTreeSha(entries);
  commit.treeOids.set(dir, oid);
  return oid;
}

/** Internal to the mock Hub; not part of the package API. */
export function safeDecode(path: string): string {
  return path
    .split('/')
    .map(s => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .join('/');
}

/** The files (and card data) of a new repo: its files, card, config and model index. */
export function repoFiles(
  id: string,
  spec: RepoSpec,
): { files: Map<string, StoredFile>; cardData?: Record<string, unknown> } {
  const files = new Map<string, StoredFile>();
  for (const f of spec.files ?? []) {
    const file = makeFile(f);
    files.set(file.path, file);
  }
  const cardData = spec.cardData ? { ...spec.cardData } : undefined;
  if (!files.has('README.md') && (cardData || spec.readme !== undefined)) {
    files.set(
      'README.md',
      makeFile({
        path: 'README.md',
        content: renderModelCard(id, cardData, spec.readme),
      }),
    );
  }
  if (spec.config && !files.has('config.json')) {
    files.set(
      'config.json',
      makeFile({
        path: 'config.json',
        content: `${JSON.stringify(spec.config, null, 2)}\n`,
      }),
    );
  }
  if (spec.modelIndex && !files.has('model_index.json')) {
    files.set(
      'model_index.json',
      makeFile({
        path: 'model_index.json',
        content: `${JSON.stringify(spec.modelIndex, null, 2)}\n`,
      }),
    );
  }
  return { files, cardData };
}

/** The record of a new repo, without its commits and refs. */
export function newRepoRecord(
  id: string,
  spec: RepoSpec,
  cardData: Record<string, unknown> | undefined,
  date: string,
  defaultBranch: string,
): RepoRecord {
  const author = id.includes('/') ? id.split('/')[0] : id;
  return {
    id,
    author,
    privateRepo: spec.private ?? false,
    gated: spec.gated ?? false,
    disabled: spec.disabled ?? false,
    pipelineTag:
      spec.pipelineTag ?? (cardData?.pipeline_tag as string | undefined),
    libraryName:
      spec.libraryName ?? (cardData?.library_name as string | undefined),
    tags: spec.tags ?? [],
    downloads: spec.downloads ?? parseInt(sha1Hex(id).slice(0, 6), 16) % 50000,
    likes: spec.likes ?? parseInt(sha1Hex(id).slice(6, 10), 16) % 500,
    createdAt: spec.createdAt ?? date,
    defaultBranch,
    branches: new Map(),
    gitTags: new Map(),
    commits: new Map(),
    safetensors: spec.safetensors,
    extraInfo: spec.extraInfo,
    objectId: sha1Hex(`repo:${id}`).slice(0, 24),
  };
}

/** The files (and card data) of a new commit on top of its parent. */
export function commitFiles(
  repo: RepoRecord,
  parent: CommitRecord,
  spec: CommitSpec,
): { files: Map<string, StoredFile>; cardData?: Record<string, unknown> } {
  const files = new Map(parent.files);
  for (const d of spec.delete ?? []) {
    const p = d.endsWith('/') ? d : normalizePath(d);
    for (const path of [...files.keys()]) {
      if (path === p || (p.endsWith('/') && path.startsWith(p))) {
        files.delete(path);
      }
    }
  }
  for (const f of spec.files ?? []) {
    const file = makeFile(f);
    files.set(file.path, file);
  }
  const cardData = spec.cardData ?? parent.cardData;
  if (spec.cardData || spec.readme !== undefined) {
    files.set(
      'README.md',
      makeFile({
        path: 'README.md',
        content: renderModelCard(repo.id, cardData, spec.readme),
      }),
    );
  }
  if (spec.config) {
    files.set(
      'config.json',
      makeFile({
        path: 'config.json',
        content: `${JSON.stringify(spec.config, null, 2)}\n`,
      }),
    );
  }
  return { files, cardData };
}
