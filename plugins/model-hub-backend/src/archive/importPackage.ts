import { createHash, randomUUID } from 'node:crypto';
import {
  constants as fsConstants,
  createReadStream,
  promises as fs,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isDatabaseConflictError } from '@backstage/backend-plugin-api';
import { ConflictError, InputError } from '@backstage/errors';
import { fileKindOf } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubFile, HubModel } from '../database/types';
import { inspectFile } from '../inspection/inspectFile';
import { fileSource } from '../inspection/source';
import { InspectionLimits, InspectionCheck } from '../inspection/types';
import { VersionChecksStore } from '../inspection/VersionChecksStore';
import { ArtifactStore, PutBlobResult } from '../store/ArtifactStore';
import { extractZip, StagedFile } from './extractZip';
import { ArchiveOptions, requiredFilePattern } from './limits';
import { PackageManifest, readManifest } from './manifest';

const WRITE_CHUNK = 1024 * 1024;

/** Streams a request body into a file, hashing it, up to a limit. */
async function spool(
  content: Readable,
  path: string,
  maxBytes: number,
): Promise<{ size: number; sha256: string }> {
  const handle = await fs.open(
    path,
    fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY,
    0o600,
  );
  const hash = createHash('sha256');
  let size = 0;
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of content) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) {
        throw new InputError(
          `The package is larger than the limit of ${maxBytes} bytes`,
        );
      }
      hash.update(buf);
      pending.push(buf);
      pendingBytes += buf.length;
      if (pendingBytes >= WRITE_CHUNK) {
        await handle.write(Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes) {
      await handle.write(Buffer.concat(pending, pendingBytes));
    }
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

function verify(
  manifest: PackageManifest,
  files: StagedFile[],
  options: { modelName: string; modelType: string; archive: ArchiveOptions },
) {
  const byPath = new Map(files.map(f => [f.path, f]));
  const problems: string[] = [];
  for (const [path, expected] of manifest.files) {
    const file = byPath.get(path);
    if (!file) {
      problems.push(`${path} is in the manifest but not in the archive`);
    } else if (file.sha256 !== expected.sha256) {
      problems.push(
        `${path}: sha256 ${file.sha256} does not match the manifest's ${expected.sha256}`,
      );
    } else if (expected.size !== undefined && expected.size !== file.size) {
      problems.push(
        `${path}: ${file.size} bytes, the manifest says ${expected.size}`,
      );
    }
  }
  for (const file of files) {
    if (
      !manifest.files.has(file.path) &&
      !manifest.manifestFiles.includes(file.path)
    ) {
      problems.push(`${file.path} is not listed in the manifest`);
    }
  }
  if (manifest.name !== undefined && manifest.name !== options.modelName) {
    problems.push(
      `the manifest is for model ${manifest.name}, not ${options.modelName}`,
    );
  }
  for (const pattern of options.archive.requiredFiles[options.modelType] ??
    []) {
    const re = requiredFilePattern(pattern);
    if (!files.some(f => re.test(f.path))) {
      problems.push(
        `a ${options.modelType} package must contain ${pattern
          .split('|')
          .join(' or ')}`,
      );
    }
  }
  if (problems.length) {
    throw new InputError(
      `Invalid package: ${problems.slice(0, 20).join('; ')}${
        problems.length > 20 ? `; and ${problems.length - 20} more` : ''
      }`,
    );
  }
}

/** @internal */
export type ImportPackageResult = {
  version: { id: string; label: string; state: 'draft' };
  files: HubFile[];
  checks: InspectionCheck[];
  manifest: { layout: PackageManifest['layout']; sha256: string };
};

/**
 * Imports a ZIP model package as a new draft version, all or nothing: the
 * archive is spooled to a staging folder, validated, extracted into staged
 * temporary files (hashed while written), verified file by file against its
 * manifest and the required files of the model type, and inspected. Only
 * then are the blobs written to the store and the version and its files
 * inserted in one transaction of the store (the same file commit as every
 * other way into a version), followed by the checks. Any failure removes the staging
 * folder and every blob this import created, leaving no row behind.
 *
 * @internal
 */
export async function importPackage(options: {
  db: Knex;
  store: ModelHubStore;
  artifacts: ArtifactStore;
  model: HubModel;
  label?: string;
  content: Readable;
  createdBy: string;
  stagingRoot: string;
  archive: ArchiveOptions;
  inspection: InspectionLimits;
}): Promise<ImportPackageResult> {
  const { db, artifacts, model } = options;
  const stagingDir = join(options.stagingRoot, randomUUID());
  await fs.mkdir(stagingDir, { recursive: true, mode: 0o700 });
  const created: PutBlobResult[] = [];
  try {
    const archivePath = join(stagingDir, 'package.zip');
    await spool(options.content, archivePath, options.archive.maxArchiveBytes);
    const extractDir = join(stagingDir, 'files');
    await fs.mkdir(extractDir, { mode: 0o700 });
    const { files, manifests } = await extractZip({
      archivePath,
      stagingDir: extractDir,
      limits: options.archive,
    });
    await fs.rm(archivePath, { force: true });
    const manifest = readManifest(manifests);
    verify(manifest, files, {
      modelName: model.name,
      modelType: model.type,
      archive: options.archive,
    });
    const label = options.label ?? manifest.version;
    if (!label) {
      throw new InputError(
        'Invalid package: no version label; pass ?label= or set version in the manifest',
      );
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(label)) {
      throw new InputError(`Invalid version label '${label}'`);
    }
    if (
      options.label &&
      manifest.version &&
      options.label !== manifest.version
    ) {
      throw new InputError(
        `Invalid package: label ${options.label} differs from the manifest's version ${manifest.version}`,
      );
    }
    if (await options.store.getVersion({ modelId: model.id, label })) {
      throw new ConflictError(`Version ${label} already exists`);
    }
    const manifestFile = files.find(f => f.path === manifest.manifestFiles[0])!;

    const checks: InspectionCheck[] = [];
    for (const file of files) {
      const source = await fileSource(file.stagedPath);
      try {
        checks.push(
          ...(await inspectFile(file.path, source, options.inspection)),
        );
      } finally {
        await source.close();
      }
    }

    // the bytes first, durable in the store
    const blobs = new Map<string, PutBlobResult>();
    for (const file of files) {
      const blob = await artifacts.put(
        createReadStream(file.stagedPath, { highWaterMark: WRITE_CHUNK }),
        { expectedSha256: file.sha256, expectedSize: file.size },
      );
      if (blob.created) {
        created.push(blob);
      }
      blobs.set(file.path, blob);
      await fs.rm(file.stagedPath, { force: true });
    }

    // then the version and all its files in one transaction of the store,
    // and the checks of the inspection
    const version = await options.store.createVersion({
      modelId: model.id,
      label,
      sourceType: 'upload',
      source: { package: { layout: manifest.layout } },
      manifestDigest: `sha256:${manifestFile.sha256}`,
      createdBy: options.createdBy,
      files: files.map(file => ({
        path: file.path,
        kind: fileKindOf(file.path),
        blob: blobs.get(file.path)!,
      })),
    });
    created.length = 0; // committed: the blobs are referenced now
    await new VersionChecksStore(db).write(version.id, checks);
    const rows = await options.store.listFiles({ versionId: version.id });
    return {
      version: { id: version.id, label, state: 'draft' },
      files: rows.sort((a, b) => a.path.localeCompare(b.path)),
      checks,
      manifest: { layout: manifest.layout, sha256: manifestFile.sha256 },
    };
  } catch (error) {
    if (isDatabaseConflictError(error)) {
      throw new ConflictError('Version already exists', error);
    }
    throw error;
  } finally {
    for (const blob of created) {
      if (!(await options.store.getBlob({ sha256: blob.sha256 }))) {
        await artifacts.delete(blob.sha256);
      }
    }
    await fs.rm(stagingDir, { recursive: true, force: true });
  }
}
