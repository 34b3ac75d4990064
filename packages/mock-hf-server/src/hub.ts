/*
 * The in-memory model of the Hub: repos, commits, refs, tokens, scripted
 * faults and the request log.
 */
import { createHash } from 'node:crypto';
import { ContentSource, isMaterializable, readAll } from './content';
import { FaultScripts, scriptMatches } from './faultScripts';
import {
  BASE_DATE,
  CommitRecord,
  commitFiles,
  newRepoRecord,
  RepoRecord,
  repoFiles,
  safeDecode,
  SHA_RE,
  StoredFile,
} from './hubRecords';
import {
  CommitSpec,
  FaultMatch,
  MockFault,
  MockHubOptions,
  PageSizes,
  RepoSpec,
  RequestLogEntry,
  ScriptHandle,
  ScriptSpec,
  TokenSpec,
} from './hubTypes';

export type {
  CommitSpec,
  FaultMatch,
  GatedMode,
  MockFault,
  MockHubOptions,
  PageSizes,
  RepoFileSpec,
  RepoSpec,
  RequestLogEntry,
  ScriptHandle,
  ScriptSpec,
  TokenSpec,
} from './hubTypes';
export type { CommitRecord, RepoRecord } from './hubRecords';
export {
  commitDirs,
  isLfsByDefault,
  safeDecode,
  StoredFile,
  treeOid,
} from './hubRecords';

/**
 * The in-memory Hub. Add repos, commits and tokens, script faults, and read
 * the request log. Serve it with `createMockHfServer` or
 * `createMockHfHandlers`.
 */
export class MockHub {
  /** @internal */
  readonly repos = new Map<string, RepoRecord>();
  /** @internal */
  readonly tokens = new Map<string, TokenSpec>();
  /** Page sizes of the paginated endpoints; mutable. */
  readonly pageSize: PageSizes;
  /** Requests received, oldest first. */
  readonly requests: RequestLogEntry[] = [];
  acceptUnknownTokens: boolean;
  private readonly maxLogEntries: number;
  private readonly faults = new FaultScripts();
  private nextRequestId = 1;
  private commitCounter = 0;

  constructor(options: MockHubOptions = {}) {
    this.pageSize = {
      tree: 1000,
      models: 1000,
      commits: 50,
      ...options.pageSize,
    };
    this.acceptUnknownTokens = options.acceptUnknownTokens ?? false;
    this.maxLogEntries = options.maxLogEntries ?? 10000;
  }

  /** Sets page sizes of paginated endpoints (tree, models, commits). */
  setPageSize(sizes: Partial<PageSizes>): this {
    Object.assign(this.pageSize, sizes);
    return this;
  }

  // ---------------------------------------------------------------- repos

  /** Adds a repo; returns the initial commit id. Replaces an existing repo with the same id. */
  addRepo(spec: RepoSpec): string {
    const id = spec.id.replace(/^\/+|\/+$/g, '');
    if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id)) {
      throw new TypeError(`Invalid repo id '${spec.id}'`);
    }
    const { files, cardData } = repoFiles(id, spec);

    const revisions = Object.entries(spec.revisions ?? {});
    const defaultBranch = revisions.some(([n]) => n === 'main')
      ? 'main'
      : revisions[0]?.[0] ?? 'main';
    const date =
      spec.date ??
      new Date(BASE_DATE + this.commitCounter * 3600e3).toISOString();
    const repo = newRepoRecord(id, spec, cardData, date, defaultBranch);
    const author = repo.author;
    const base: Omit<CommitRecord, 'id'> = {
      title: spec.commitTitle ?? 'initial commit',
      message: '',
      date,
      author,
      files,
      cardData,
      config: spec.config,
    };
    const refs = revisions.length ? revisions : [['main', undefined] as const];
    let first: CommitRecord | undefined;
    for (const [branch, sha] of refs) {
      const existing = sha ? repo.commits.get(sha.toLowerCase()) : undefined;
      if (existing) {
        repo.branches.set(branch, existing.id);
        continue;
      }
      const commit: CommitRecord = {
        ...base,
        parent: first?.id,
        id: this.commitId(id, sha, first?.id, files, base.title),
      };
      repo.commits.set(commit.id, commit);
      repo.branches.set(branch, commit.id);
      first ??= commit;
    }
    for (const tag of spec.gitTags ?? []) {
      repo.gitTags.set(tag, first!.id);
    }
    this.repos.set(id, repo);
    return first!.id;
  }

  /** Adds several repos. */
  addRepos(specs: Iterable<RepoSpec>): this {
    for (const spec of specs) {
      this.addRepo(spec);
    }
    return this;
  }

  /** Removes a repo; returns whether it existed. */
  removeRepo(repoId: string): boolean {
    return this.repos.delete(repoId);
  }

  /** Ids of all repos. */
  listRepoIds(): string[] {
    return [...this.repos.keys()];
  }

  /** Whether a repo exists. */
  hasRepo(repoId: string): boolean {
    return this.repos.has(repoId);
  }

  /** @internal */
  getRepo(repoId: string): RepoRecord {
    const repo = this.repos.get(repoId);
    if (!repo) {
      throw new Error(`Mock hub has no repo '${repoId}'`);
    }
    return repo;
  }

  /** Creates a new commit (upstream drift); returns its id. */
  commit(repoId: string, spec: CommitSpec = {}): string {
    const repo = this.getRepo(repoId);
    const branch = spec.branch ?? repo.defaultBranch;
    const parentId =
      repo.branches.get(branch) ??
      this.resolveRevision(repoId, spec.from ?? repo.defaultBranch);
    if (!parentId) {
      throw new Error(`Unknown revision '${spec.from}' of ${repoId}`);
    }
    const parent = repo.commits.get(parentId)!;
    const { files, cardData } = commitFiles(repo, parent, spec);
    const title = spec.title ?? `Update ${branch}`;
    const parentTime = Date.parse(parent.date);
    const commit: CommitRecord = {
      id: this.commitId(repo.id, spec.sha, parent.id, files, title),
      parent: parent.id,
      title,
      message: spec.message ?? '',
      date: spec.date ?? new Date(parentTime + 3600e3).toISOString(),
      author: spec.author ?? parent.author,
      files,
      cardData,
      config: spec.config ?? parent.config,
    };
    if (repo.commits.has(commit.id)) {
      throw new Error(`Commit ${commit.id} already exists in ${repoId}`);
    }
    repo.commits.set(commit.id, commit);
    repo.branches.set(branch, commit.id);
    return commit.id;
  }

  /** Creates or moves a branch to a revision. */
  setBranch(repoId: string, branch: string, revision: string): this {
    const repo = this.getRepo(repoId);
    const sha = this.resolveRevision(repoId, revision);
    if (!sha) {
      throw new Error(`Unknown revision '${revision}' of ${repoId}`);
    }
    repo.branches.set(branch, sha);
    return this;
  }

  /** Creates or moves a git tag. */
  setTag(repoId: string, tag: string, revision: string): this {
    const repo = this.getRepo(repoId);
    const sha = this.resolveRevision(repoId, revision);
    if (!sha) {
      throw new Error(`Unknown revision '${revision}' of ${repoId}`);
    }
    repo.gitTags.set(tag, sha);
    return this;
  }

  /** Changes repo settings (gating, visibility, counters). */
  updateRepo(
    repoId: string,
    patch: Partial<
      Pick<RepoSpec, 'gated' | 'private' | 'disabled' | 'downloads' | 'likes'>
    >,
  ): this {
    const repo = this.getRepo(repoId);
    if (patch.gated !== undefined) repo.gated = patch.gated;
    if (patch.private !== undefined) repo.privateRepo = patch.private;
    if (patch.disabled !== undefined) repo.disabled = patch.disabled;
    if (patch.downloads !== undefined) repo.downloads = patch.downloads;
    if (patch.likes !== undefined) repo.likes = patch.likes;
    return this;
  }

  /** Resolves a branch, tag, `HEAD`, full or short (≥ 7 hex) commit id to a commit id. */
  resolveRevision(repoId: string, revision: string): string | undefined {
    const repo = this.repos.get(repoId);
    if (!repo) {
      return undefined;
    }
    const rev = revision === 'HEAD' ? repo.defaultBranch : revision;
    const fromRef =
      repo.branches.get(rev) ??
      repo.gitTags.get(rev) ??
      repo.branches.get(rev.replace(/^refs\/heads\//, '')) ??
      repo.gitTags.get(rev.replace(/^refs\/tags\//, ''));
    if (fromRef) {
      return fromRef;
    }
    const lower = rev.toLowerCase();
    if (SHA_RE.test(lower)) {
      return repo.commits.has(lower) ? lower : undefined;
    }
    if (/^[0-9a-f]{7,39}$/.test(lower)) {
      const found = [...repo.commits.keys()].filter(c => c.startsWith(lower));
      return found.length === 1 ? found[0] : undefined;
    }
    return undefined;
  }

  /** The commit id a revision (default: default branch) currently points to. */
  headSha(repoId: string, revision?: string): string {
    const repo = this.getRepo(repoId);
    const sha = this.resolveRevision(repoId, revision ?? repo.defaultBranch);
    if (!sha) {
      throw new Error(`Unknown revision '${revision}' of ${repoId}`);
    }
    return sha;
  }

  /** Metadata of a file at a revision: oid, size, sha256 (LFS), etag. */
  fileInfo(
    repoId: string,
    path: string,
    revision?: string,
  ):
    | {
        path: string;
        size: number;
        oid: string;
        lfs: boolean;
        sha256: string;
        etag: string;
      }
    | undefined {
    const commit = this.getRepo(repoId).commits.get(
      this.headSha(repoId, revision),
    )!;
    const file = commit.files.get(path);
    if (!file) {
      return undefined;
    }
    return {
      path: file.path,
      size: file.size,
      oid: file.oid,
      lfs: file.lfs,
      sha256: file.sha256,
      etag: file.etag,
    };
  }

  /** The bytes of a file at a revision (reads it into memory). */
  fileContent(repoId: string, path: string, revision?: string): Buffer {
    const commit = this.getRepo(repoId).commits.get(
      this.headSha(repoId, revision),
    )!;
    const file = commit.files.get(path);
    if (!file) {
      throw new Error(`No file '${path}' in ${repoId}@${revision ?? 'main'}`);
    }
    return readAll(file.source);
  }

  /** Paths of all files at a revision. */
  filePaths(repoId: string, revision?: string): string[] {
    const commit = this.getRepo(repoId).commits.get(
      this.headSha(repoId, revision),
    )!;
    return [...commit.files.keys()].sort();
  }

  /**
   * Writes generated files of at least `minBytes` (default 64 MiB) to
   * `dir` and serves them from there: a light server next to the clients
   * of a benchmark, instead of one that generates every byte per request.
   * Returns how many files are served from `dir`.
   */
  cacheLargeFiles(dir: string, minBytes = 64 * 1024 * 1024): number {
    const sources = new Set<ContentSource>();
    for (const repo of this.repos.values()) {
      for (const commit of repo.commits.values()) {
        for (const file of commit.files.values()) {
          if (file.size >= minBytes && isMaterializable(file.source)) {
            sources.add(file.source);
          }
        }
      }
    }
    for (const source of sources) {
      if (isMaterializable(source)) {
        source.materialize(dir);
      }
    }
    return sources.size;
  }

  /** Computes all content hashes now (otherwise computed on first use). */
  warmUp(): this {
    for (const repo of this.repos.values()) {
      for (const commit of repo.commits.values()) {
        for (const file of commit.files.values()) {
          void file.oid;
          void file.sha256;
        }
      }
    }
    return this;
  }

  private commitId(
    repoId: string,
    sha: string | undefined,
    parent: string | undefined,
    files: Map<string, StoredFile>,
    title: string,
  ): string {
    this.commitCounter++;
    if (sha) {
      const lower = sha.toLowerCase();
      if (!SHA_RE.test(lower)) {
        throw new TypeError(`Commit id must be 40 hex characters: '${sha}'`);
      }
      return lower;
    }
    const h = createHash('sha1');
    h.update(`commit\0${repoId}\0${parent ?? ''}\0${title}\0`);
    h.update(String(this.commitCounter));
    for (const [path, f] of [...files.entries()].sort()) {
      h.update(`${path}\0${f.lfs}\0${f.source.identity}\0`);
    }
    return h.digest('hex');
  }

  // ---------------------------------------------------------------- tokens

  /** Registers a token (must start with `hf_` for the JS client). */
  addToken(token: string, spec: TokenSpec = {}): this {
    this.tokens.set(token, { user: 'mock-user', role: 'read', ...spec });
    return this;
  }

  /** Grants a token access to a gated or private repo. */
  grantAccess(token: string, repoId: string): this {
    const spec = this.tokens.get(token);
    if (!spec) {
      throw new Error('Unknown token');
    }
    if (spec.access !== '*') {
      spec.access = [...(spec.access ?? []), repoId];
    }
    return this;
  }

  /** Revokes a token's access to a repo. */
  revokeAccess(token: string, repoId: string): this {
    const spec = this.tokens.get(token);
    if (spec && Array.isArray(spec.access)) {
      spec.access = spec.access.filter(r => r !== repoId);
    }
    return this;
  }

  // ---------------------------------------------------------------- faults

  /** Scripts a fault for matching requests. Scripts are tried in order. */
  script(spec: ScriptSpec): ScriptHandle {
    return this.faults.add(spec);
  }

  /** Removes all scripted faults. */
  clearScripts(): this {
    this.faults.clear();
    return this;
  }

  /** @internal Finds and consumes the fault for a request, if any. */
  takeFault(
    method: string,
    path: string,
    search: string,
  ): MockFault | undefined {
    return this.faults.take(method, path, search);
  }

  // ---------------------------------------------------------------- log

  /** @internal */
  logRequest(entry: Omit<RequestLogEntry, 'id' | 'time'>): RequestLogEntry {
    const full: RequestLogEntry = {
      id: this.nextRequestId++,
      time: Date.now(),
      ...entry,
    };
    this.requests.push(full);
    if (this.requests.length > this.maxLogEntries) {
      this.requests.splice(0, this.requests.length - this.maxLogEntries);
    }
    return full;
  }

  /** Empties the request log. */
  clearRequests(): this {
    this.requests.length = 0;
    return this;
  }

  /** Log entries matching a method and/or path (same rules as fault matching). */
  findRequests(match: FaultMatch): RequestLogEntry[] {
    return this.requests.filter(r =>
      scriptMatches(match, r.method, safeDecode(r.path), r.search),
    );
  }

  /** Clears scripts and the request log (repos and tokens stay). */
  reset(): this {
    return this.clearScripts().clearRequests();
  }
}
