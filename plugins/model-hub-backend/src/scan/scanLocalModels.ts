import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError, NotFoundError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { EDITABLE_VERSION_STATES } from '@model-hub/backstage-plugin-model-hub-common';
import { ingestFile, InspectCommitted } from '../service/ingest';
import { ArtifactStore } from '../store/ArtifactStore';
import {
  modelFormatOf,
  modelTypeOf,
  parseModelCard,
  toCatalogTags,
  toEntityName,
} from '../huggingface/metadata';

/** What a scan found and did for one model folder. @public */
export type ScannedModel = {
  /** `org/name`, relative to the scan root. */
  path: string;
  modelRef: string;
  version: string;
  files: number;
  bytes: number;
  /** False when the model already had a version of exactly these files. */
  created: boolean;
};

const MAX_FILES = 10_000;

/** Where a scan stands, for the progress of its job. @public */
export type ScanProgress = {
  phase: 'listing' | 'hashing' | 'ingesting' | 'done';
  folders: { total: number; done: number };
  files: { total: number; done: number };
  bytes: { total: number; done: number };
  /** The folder or file being worked on, relative to the scan root. */
  current?: string;
  models: ScannedModel[];
  skipped: string[];
};

/**
 * Resolves a path given to the scan inside the root, following symbolic
 * links; throws `InputError` for anything that leaves the root.
 *
 * @internal
 */
export async function resolveInsideRoot(
  root: string,
  path: string,
): Promise<string> {
  const realRoot = await fs.realpath(root).catch(() => {
    throw new NotFoundError(`The scan root ${root} does not exist`);
  });
  if (path.includes('\0')) {
    throw new InputError('Invalid path');
  }
  const candidate = isAbsolute(path) ? resolve(path) : resolve(realRoot, path);
  const real = await fs.realpath(candidate).catch(() => {
    throw new NotFoundError(`No such folder under the scan root: ${path}`);
  });
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new InputError(`The path ${path} is outside the scan root`);
  }
  return real;
}

async function isDir(path: string) {
  return (await fs.stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** Lists the files of a model folder (no hidden entries), relative paths. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) {
        continue;
      }
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
      } else if (entry.isFile()) {
        out.push(relative(root, full).split(sep).join('/'));
        if (out.length > MAX_FILES) {
          throw new InputError(`${root} has more than ${MAX_FILES} files`);
        }
      }
    }
  };
  await walk(root);
  return out.sort();
}

async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1024 * 1024,
    signal,
  })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * Scans `org/name` model folders under a root (all of them, or the ones
 * under `path`): a folder is a model when it has `config.json` or
 * `model_index.json`. Its files are hashed and ingested into the
 * content-addressed store as a version labelled by the digest of its file
 * list, and the model is registered (created on first sight). Nothing is
 * downloaded. Symbolic links that lead outside the root are refused.
 *
 * @internal
 */
export async function scanLocalModels(options: {
  root: string;
  path: string;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  namespace: string;
  owner: string;
  createdBy: string;
  /** The format inspection of each committed file. */
  inspect?: InspectCommitted;
  /** Called as the scan advances (the job's progress). */
  onProgress?: (progress: ScanProgress) => void;
  /** A line of the scan's log. */
  log?: (level: 'info' | 'warn', message: string) => Promise<void> | void;
  /** Stops the scan between files (a cancelled job). */
  signal?: AbortSignal;
}): Promise<{ models: ScannedModel[]; skipped: string[] }> {
  const log = options.log ?? (() => {});
  const progress: ScanProgress = {
    phase: 'listing',
    folders: { total: 0, done: 0 },
    files: { total: 0, done: 0 },
    bytes: { total: 0, done: 0 },
    models: [],
    skipped: [],
  };
  const report = () =>
    options.onProgress?.({
      ...progress,
      folders: { ...progress.folders },
      files: { ...progress.files },
      bytes: { ...progress.bytes },
      models: [...progress.models],
      skipped: [...progress.skipped],
    });
  const checkAborted = () => {
    if (options.signal?.aborted) {
      throw new Error('The scan was cancelled');
    }
  };
  const realRoot = await fs.realpath(options.root);
  const start = await resolveInsideRoot(options.root, options.path);
  const depth = relative(realRoot, start).split(sep).filter(Boolean).length;
  if (depth > 2) {
    throw new InputError(
      'The path must be the root, an organization folder or an org/name folder',
    );
  }
  // the org/name folders under the start folder
  let folders: string[] = [];
  if (depth === 2) {
    folders = [start];
  } else if (depth === 1) {
    for (const e of await fs.readdir(start, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('.'))
        folders.push(join(start, e.name));
    }
  } else {
    for (const org of await fs.readdir(start, { withFileTypes: true })) {
      if (!org.isDirectory() || org.name.startsWith('.')) continue;
      for (const e of await fs.readdir(join(start, org.name), {
        withFileTypes: true,
      })) {
        if (e.isDirectory() && !e.name.startsWith('.'))
          folders.push(join(start, org.name, e.name));
      }
    }
  }
  const models = progress.models;
  const skipped = progress.skipped;
  // list first: the totals of the progress
  const listed: Array<{
    id: string;
    real: string;
    files: Array<{ path: string; size: number; full: string }>;
    hasIndex: boolean;
  }> = [];
  progress.folders.total = folders.length;
  report();
  for (const folder of folders.sort()) {
    checkAborted();
    const real = await resolveInsideRoot(realRoot, folder).catch(
      () => undefined,
    );
    const id = relative(realRoot, folder).split(sep).join('/');
    if (!real || !(await isDir(real))) {
      skipped.push(id);
      await log('warn', `Skipped ${id}: not a folder under the scan root`);
      continue;
    }
    const paths = await listFiles(real);
    const hasConfig = paths.includes('config.json');
    const hasIndex = paths.includes('model_index.json');
    if (!hasConfig && !hasIndex) {
      skipped.push(id);
      await log('info', `Skipped ${id}: no config.json or model_index.json`);
      continue;
    }
    const files: Array<{ path: string; size: number; full: string }> = [];
    for (const p of paths) {
      const full = join(real, ...p.split('/'));
      const inside = await resolveInsideRoot(realRoot, full).catch(
        () => undefined,
      );
      if (!inside) {
        await log(
          'warn',
          `Skipped ${id}/${p}: a link that leaves the scan root`,
        );
        continue;
      }
      const st = await fs.stat(inside);
      files.push({ path: p, size: st.size, full: inside });
    }
    listed.push({ id, real, files, hasIndex });
    progress.files.total += files.length;
    progress.bytes.total += files.reduce((n, f) => n + f.size, 0);
  }
  progress.folders.total = listed.length;
  await log(
    'info',
    `Found ${listed.length} model folders (${progress.files.total} files, ${progress.bytes.total} bytes); skipped ${skipped.length}`,
  );
  report();

  for (const { id, real, files: folderFiles, hasIndex } of listed) {
    checkAborted();
    const files = folderFiles.map(f => f.path);
    // hash every file first: the version label is the digest of the list
    progress.phase = 'hashing';
    progress.current = id;
    report();
    const hashed: Array<{
      path: string;
      sha256: string;
      size: number;
      full: string;
    }> = [];
    for (const f of folderFiles) {
      checkAborted();
      hashed.push({ ...f, sha256: await sha256File(f.full, options.signal) });
    }
    const manifest = createHash('sha256');
    for (const f of hashed) {
      manifest.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
    }
    const digest = manifest.digest('hex');
    const label = `local-${digest.slice(0, 12)}`;

    const readText = async (name: string) =>
      hashed.some(f => f.path === name)
        ? fs.readFile(join(real, name), 'utf8').catch(() => undefined)
        : undefined;
    let config: Record<string, unknown> | undefined;
    try {
      const text = await readText(
        hasIndex ? 'model_index.json' : 'config.json',
      );
      config = text ? JSON.parse(text) : undefined;
    } catch {
      config = undefined;
    }
    const card = parseModelCard(await readText('README.md'));
    const name = toEntityName(id);
    const entityRef = `model:${options.namespace}/${name}`.toLocaleLowerCase(
      'en-US',
    );
    let model = await options.store.getModel({ entityRef });
    if (!model) {
      model = await options.store.createModel({
        namespace: options.namespace,
        name,
        title: id,
        description: `Model scanned from ${id}`,
        type: modelTypeOf(card.pipelineTag, { hasModelIndex: hasIndex }),
        task: card.pipelineTag,
        format: modelFormatOf(files),
        license: card.license,
        lifecycle: 'experimental',
        owner: options.owner,
        sourceType: 'upload',
        source: { upload: { scannedFrom: id } },
        tags: toCatalogTags([
          'local-scan',
          ...card.tags,
          ...(typeof config?.model_type === 'string'
            ? [config.model_type]
            : []),
        ]),
        createdBy: options.createdBy,
      });
    }
    const existing = await options.store.getVersion({
      modelId: model.id,
      label,
    });
    const folderBytes = hashed.reduce((n, f) => n + f.size, 0);
    const folderDone = () => {
      progress.folders.done += 1;
      report();
    };
    if (existing && existing.fileCount === hashed.length) {
      await log(
        'info',
        `${id}: ${model.entityRef} already has version ${label} with these ${hashed.length} files`,
      );
      progress.files.done += hashed.length;
      progress.bytes.done += folderBytes;
      models.push({
        path: id,
        modelRef: model.entityRef,
        version: label,
        files: hashed.length,
        bytes: folderBytes,
        created: false,
      });
      folderDone();
      continue;
    }
    if (existing && !EDITABLE_VERSION_STATES.includes(existing.state)) {
      // its files are frozen: a scan never adds to a submitted version
      skipped.push(id);
      await log(
        'warn',
        `Skipped ${id}: version ${label} of ${model.entityRef} is ${existing.state}; its files are frozen`,
      );
      progress.files.done += hashed.length;
      progress.bytes.done += folderBytes;
      folderDone();
      continue;
    }
    const version =
      existing ??
      (await options.store.createVersion({
        modelId: model.id,
        label,
        sourceType: 'upload',
        source: { upload: { scannedFrom: id } },
        manifestDigest: `sha256:${digest}`,
        notes: `Scanned from ${id}`,
        createdBy: options.createdBy,
      }));
    progress.phase = 'ingesting';
    for (const f of hashed) {
      checkAborted();
      progress.current = `${id}/${f.path}`;
      report();
      const known = existing
        ? await options.store.getFile({ versionId: version.id, path: f.path })
        : undefined;
      if (known?.sha256 === f.sha256) {
        await log('info', `${id}/${f.path}: stored already`);
      } else {
        await ingestFile({
          store: options.store,
          artifacts: options.artifacts,
          versionId: version.id,
          path: f.path,
          content: createReadStream(f.full, { highWaterMark: 1024 * 1024 }),
          expectedSha256: f.sha256,
          expectedSize: f.size,
          createdBy: options.createdBy,
          inspect: options.inspect,
          onInspectionError: error => {
            void log(
              'warn',
              `${id}/${f.path}: the inspection failed: ${error.message}`,
            );
          },
        });
        await log(
          'info',
          `${id}/${f.path}: ${f.size} bytes, sha256 ${f.sha256}, committed and inspected`,
        );
      }
      progress.files.done += 1;
      progress.bytes.done += f.size;
    }
    await log(
      'info',
      `${id}: version ${label} of ${model.entityRef}${
        existing ? ' completed' : ' created'
      }`,
    );
    models.push({
      path: id,
      modelRef: model.entityRef,
      version: label,
      files: hashed.length,
      bytes: folderBytes,
      created: true,
    });
    folderDone();
  }
  progress.phase = 'done';
  progress.current = undefined;
  report();
  return { models, skipped };
}
