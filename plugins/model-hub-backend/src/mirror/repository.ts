import { LoggerService } from '@backstage/backend-plugin-api';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubFile, HubModel, HubVersion } from '../database/types';
import { ArtifactStore } from '../store/ArtifactStore';
import { pickActiveVersion, servableVersions } from './activeVersion';
import { entryNotFound, repoNotFound, revisionNotFound } from './errors';
import {
  COMMIT_PATTERN,
  gitBlobHasher,
  gitTreeSha1,
  isLfsPath,
  lfsPointer,
  syntheticCommitId,
} from './gitObjects';
import { createHash } from 'node:crypto';
import { MirrorStore } from './MirrorStore';

/** A file of a mirrored revision, with the ids the Hub reports. @internal */
export type RepoFile = {
  type: 'file';
  path: string;
  size: number;
  sha256: string;
  /** Git blob SHA-1: of the content, or of the LFS pointer for LFS files. */
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  /**
   * An approved file whose bytes are not in the store yet (on-demand fetch):
   * `sha256` is the LFS oid, or empty for a regular file (known by its git
   * blob id only).
   */
  pending?: true;
};

/** A directory of a mirrored revision. @internal */
export type RepoDirectory = {
  type: 'directory';
  path: string;
  /** Git tree SHA-1. */
  oid: string;
};

export type RepoEntry = RepoFile | RepoDirectory;

/** An approved version as a Hub repository revision. @internal */
export type RepoSnapshot = {
  model: HubModel;
  version: HubVersion;
  /** 40-hex commit id. */
  commit: string;
  /** Every file and directory, sorted by path. */
  entries: RepoEntry[];
  byPath: Map<string, RepoEntry>;
};

/** Orders by path, by code unit (stable across databases and locales). */
function byPath(a: { path: string }, b: { path: string }): number {
  if (a.path === b.path) {
    return 0;
  }
  return a.path < b.path ? -1 : 1;
}

/** The HF repo id (`org/name`) of a model. @internal */
export function repoIdOf(model: HubModel): string {
  return `${model.namespace}/${model.name}`;
}

/**
 * The commit id of a version: the Hub commit it was synced from, or a
 * synthetic one derived from its manifest digest.
 */
export function commitIdOf(
  model: HubModel,
  version: HubVersion,
  files?: HubFile[],
): string {
  const resolved = version.resolvedCommit?.toLowerCase();
  if (resolved && COMMIT_PATTERN.test(resolved)) {
    return resolved;
  }
  if (version.manifestDigest) {
    return syntheticCommitId(model.entityRef, version.manifestDigest);
  }
  // no manifest digest recorded: the same digest of the file list
  const manifest = createHash('sha256');
  for (const f of [...(files ?? [])].sort((a, b) => byPath(a, b))) {
    manifest.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
  }
  return syntheticCommitId(
    model.entityRef,
    `files:${version.id}:${manifest.digest('hex')}`,
  );
}

const MAX_CACHED_SNAPSHOTS = 64;

/**
 * Resolves HF repo ids and revisions to approved versions, and builds the
 * git view (oids, LFS pointers, trees) of their files. Snapshots of approved
 * versions are cached; a change of the version (its `revision` counter or
 * `updatedAt`) builds a new one.
 *
 * @internal
 */
export class MirrorRepository {
  private readonly cache = new Map<string, Promise<RepoSnapshot>>();

  constructor(
    private readonly options: {
      store: ModelHubStore;
      mirrorStore: MirrorStore;
      artifacts: ArtifactStore;
      logger: LoggerService;
      /**
       * List the files of an approved Hugging Face version that are not
       * downloaded yet (`fetch: on-demand`), marked `pending`; they are
       * fetched when requested.
       */
      includePending?: boolean;
      /**
       * The default Hub source (`huggingface` unless given): its model wins
       * when a repo id is registered from several sources.
       */
      defaultSource?: () => string;
    },
  ) {}

  /**
   * The model a Hub repo id names: the model a registered Hugging Face repo
   * `<org>/<name>` is synced into (so that clients keep using upstream repo
   * ids; a registered repo id always wins, so no portal model named
   * `<org>/<name>` can stand in for the upstream repo), else the model
   * `<org>/<name>` of the portal.
   *
   * One repo id may be registered from several model sources (issue 22):
   * it then names the model of the default source (the first Hub source),
   * else of the first source by name. The models of the other sources are
   * served under their own `<namespace>/<name>` (the namespace of their
   * source), which no registered repo id can take (the sync refuses to
   * register a repo id that is a model's namespace and name).
   */
  async getModel(org: string, name: string): Promise<HubModel> {
    const { store, mirrorStore } = this.options;
    const ref = await mirrorStore.findModelRefByHfRepo(
      `${org}/${name}`,
      this.options.defaultSource?.() ?? 'huggingface',
    );
    let model = ref ? await store.getModel({ entityRef: ref }) : undefined;
    if (!model) {
      model = await store.getModel({
        entityRef: `model:${org}/${name}`.toLocaleLowerCase('en-US'),
      });
    }
    if (!model) {
      throw repoNotFound(`${org}/${name}`);
    }
    return model;
  }

  /** Approved versions of a model with the one `main` points at. */
  async servable(model: HubModel) {
    const [all, activeVersionId] = await Promise.all([
      this.options.store.listVersions({ modelId: model.id }),
      this.options.mirrorStore.getActiveVersionId(model.id),
    ]);
    const versions = servableVersions(all);
    return { versions, active: pickActiveVersion(versions, activeVersionId) };
  }

  /**
   * The approved version a revision names: `main`/`HEAD` (the active
   * version), a version label, `refs/heads/main`, `refs/tags/<label>`, or a
   * 40-hex commit id. Throws 404 `RevisionNotFound` otherwise: versions that
   * are not approved are not served and not revealed.
   */
  async resolve(model: HubModel, revision: string): Promise<RepoSnapshot> {
    const { versions, active } = await this.servable(model);
    const repoId = repoIdOf(model);
    if (!active) {
      throw repoNotFound(repoId);
    }
    let rev = revision;
    if (rev.startsWith('refs/heads/')) {
      rev = rev.slice('refs/heads/'.length);
      if (rev !== 'main') {
        throw revisionNotFound(repoId, revision);
      }
    } else if (rev.startsWith('refs/tags/')) {
      rev = rev.slice('refs/tags/'.length);
    }
    if (rev === 'main' || rev === 'HEAD') {
      return this.snapshot(model, active);
    }
    const byLabel = versions.find(v => v.label === rev);
    if (byLabel) {
      return this.snapshot(model, byLabel);
    }
    if (COMMIT_PATTERN.test(rev)) {
      // a commit id: the Hub commit of synced versions, or synthetic ids
      for (const version of versions) {
        const synced = version.resolvedCommit?.toLowerCase();
        if (synced === rev) {
          return this.snapshot(model, version);
        }
      }
      for (const version of versions) {
        const snapshot = await this.snapshot(model, version);
        if (snapshot.commit === rev) {
          return snapshot;
        }
      }
    }
    throw revisionNotFound(repoId, revision);
  }

  snapshot(model: HubModel, version: HubVersion): Promise<RepoSnapshot> {
    const key = `${version.id}:${version.revision}:${version.updatedAt}`;
    let snapshot = this.cache.get(key);
    if (snapshot) {
      // refresh its place in the LRU order
      this.cache.delete(key);
      this.cache.set(key, snapshot);
      return snapshot;
    }
    snapshot = this.build(model, version);
    this.cache.set(key, snapshot);
    snapshot.catch(() => this.cache.delete(key));
    while (this.cache.size > MAX_CACHED_SNAPSHOTS) {
      this.cache.delete(this.cache.keys().next().value!);
    }
    return snapshot;
  }

  private async build(
    model: HubModel,
    version: HubVersion,
  ): Promise<RepoSnapshot> {
    const files = await this.options.store.listFiles({ versionId: version.id });
    // versions synced from the Hub keep the Hub's git view where it is
    // recorded and matches the content
    const upstream =
      version.sourceType === 'huggingface' &&
      version.resolvedCommit &&
      COMMIT_PATTERN.test(version.resolvedCommit)
        ? await this.options.mirrorStore.getUpstreamFiles(
            version.resolvedCommit,
          )
        : new Map<
            string,
            { oid: string; lfsSha256?: string; pointerSize?: number }
          >();
    const isLfs = (file: HubFile) => {
      const up = upstream.get(file.path);
      if (up) {
        return up.lfsSha256 !== undefined;
      }
      return isLfsPath(file.path, file.size);
    };
    const pending = await this.pendingFiles(version, files);
    const small = files.filter(f => !isLfs(f));
    const known = await this.options.mirrorStore.getGitOids([
      ...new Set(small.map(f => f.sha256)),
    ]);
    for (const file of small) {
      if (!known.has(file.sha256)) {
        const oid = await this.hashGitBlob(file.sha256, file.size);
        await this.options.mirrorStore.putGitOid(file.sha256, oid);
        known.set(file.sha256, oid);
      }
    }

    const entries: RepoEntry[] = [];
    const children = new Map<string, RepoEntry[]>();
    const addChild = (dir: string, entry: RepoEntry) => {
      const list = children.get(dir);
      if (list) {
        list.push(entry);
      } else {
        children.set(dir, [entry]);
      }
    };
    const dirs = new Set<string>(['']);
    for (const file of files) {
      let entry: RepoFile;
      if (isLfs(file)) {
        const pointer = lfsPointer(file.sha256, file.size);
        const hasher = gitBlobHasher(pointer.length);
        hasher.update(pointer);
        entry = {
          type: 'file',
          path: file.path,
          size: file.size,
          sha256: file.sha256,
          oid: hasher.digest(),
          lfs: {
            oid: file.sha256,
            size: file.size,
            pointerSize: pointer.length,
          },
        };
      } else {
        entry = {
          type: 'file',
          path: file.path,
          size: file.size,
          sha256: file.sha256,
          oid: known.get(file.sha256)!,
        };
      }
      entries.push(entry);
    }
    entries.push(...pending);
    for (const entry of entries) {
      const parts = entry.path.split('/');
      addChild(parts.slice(0, -1).join('/'), entry);
      for (let i = 1; i < parts.length; i++) {
        dirs.add(parts.slice(0, i).join('/'));
      }
    }
    // directories, deepest first so that their children have ids
    const dirEntries = new Map<string, RepoDirectory>();
    for (const dir of [...dirs].sort(
      (a, b) => b.split('/').length - a.split('/').length,
    )) {
      if (dir === '') {
        continue;
      }
      const entry: RepoDirectory = { type: 'directory', path: dir, oid: '' };
      dirEntries.set(dir, entry);
      addChild(dir.split('/').slice(0, -1).join('/'), entry);
    }
    for (const [dir, entry] of [...dirEntries].sort(
      (a, b) => b[0].split('/').length - a[0].split('/').length,
    )) {
      entry.oid = gitTreeSha1(
        (children.get(dir) ?? []).map(c => ({
          name: c.path.split('/').pop()!,
          type: c.type,
          oid: c.oid,
        })),
      );
      entries.push(entry);
    }
    entries.sort(byPath);
    return {
      model,
      version,
      commit: commitIdOf(model, version, files),
      entries,
      byPath: new Map(entries.map(e => [e.path, e])),
    };
  }

  /**
   * The files of the approved list of an HF version that the version does
   * not hold yet, with the ids the Hub gave them (`includePending` only).
   */
  private async pendingFiles(
    version: HubVersion,
    files: HubFile[],
  ): Promise<RepoFile[]> {
    if (!this.options.includePending || version.sourceType !== 'huggingface') {
      return [];
    }
    const held = new Set(files.map(f => f.path));
    const expected = await this.options.store.listExpectedFiles({
      versionId: version.id,
    });
    const pending: RepoFile[] = [];
    for (const f of expected) {
      if (held.has(f.path)) {
        continue;
      }
      if (f.sha256) {
        const pointer = lfsPointer(f.sha256, f.size);
        const hasher = gitBlobHasher(pointer.length);
        hasher.update(pointer);
        pending.push({
          type: 'file',
          path: f.path,
          size: f.size,
          sha256: f.sha256,
          oid: hasher.digest(),
          lfs: { oid: f.sha256, size: f.size, pointerSize: pointer.length },
          pending: true,
        });
      } else if (f.gitOid) {
        pending.push({
          type: 'file',
          path: f.path,
          size: f.size,
          sha256: '',
          oid: f.gitOid,
          pending: true,
        });
      }
    }
    return pending;
  }

  private async hashGitBlob(sha256: string, size: number): Promise<string> {
    const hasher = gitBlobHasher(size);
    if (size > 0) {
      for await (const chunk of await this.options.artifacts.get(sha256)) {
        hasher.update(chunk as Buffer);
      }
    }
    return hasher.digest();
  }

  /** The file at a path of a snapshot; 404 `EntryNotFound` otherwise. */
  static file(snapshot: RepoSnapshot, path: string): RepoFile {
    const entry = snapshot.byPath.get(path);
    if (!entry || entry.type !== 'file') {
      throw entryNotFound(path, snapshot.commit);
    }
    return entry;
  }
}
