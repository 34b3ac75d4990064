import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { EDITABLE_VERSION_STATES } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import { AddFileOptions } from './ModelHubStore';
import { HubBlob, HubFile, VersionState } from './types';
import { contentDigest } from './contentDigest';
import {
  BlobRow,
  conflictOnDuplicate,
  FileRow,
  inTransaction,
  mapBlob,
  mapFile,
} from './rows';
import {
  expectedDigest,
  ExpectedFileRow,
  VersionsStore,
} from './VersionsStore';

/**
 * States in which a version with an expected file list (HF) may still get
 * the bytes of listed files: its content digest is that of the list, which
 * review and approval are bound to.
 */
const FILLABLE_STATES: VersionState[] = [
  ...EDITABLE_VERSION_STATES,
  'in_review',
  'approved',
  'deprecated',
];

function notEditable(version: { label: string; state: string }) {
  return new ConflictError(
    `Version ${version.label} is ${version.state}; files can only change in a draft version or one with changes requested`,
  );
}

/** Checks a file against the entry of an expected file list. */
function assertExpected(
  options: AddFileOptions,
  expected: ExpectedFileRow | undefined,
  label: string,
) {
  if (!expected) {
    throw new ConflictError(
      `${options.path} is not in the file list of version ${label}; no other file can be added`,
    );
  }
  const matches =
    Number(expected.size) === options.blob.size &&
    (expected.sha256
      ? expected.sha256 === options.blob.sha256
      : Boolean(expected.git_oid) && expected.git_oid === options.gitOid);
  if (!matches) {
    throw new ConflictError(
      `${options.path} does not match the file list of version ${label} (size ${
        expected.size
      }, ${
        expected.sha256
          ? `sha256 ${expected.sha256}`
          : `git blob ${expected.git_oid}`
      })`,
    );
  }
}

/** Which files {@link FilesStore.releaseFiles} releases. @internal */
export type FileSelection = { versionId: string } | { modelId: string };

/**
 * The owner of `version_files` and `blobs` (issue 21): files of versions
 * and the reference counts of their blobs. Methods that take `trx` run in
 * it, or in a transaction of their own when it is `undefined`.
 *
 * @internal
 */
export class FilesStore {
  private readonly versions: VersionsStore;

  constructor(private readonly db: Knex, versions?: VersionsStore) {
    this.versions = versions ?? new VersionsStore(db);
  }

  /**
   * Adds a file to a version (editable, or with an expected file list that
   * names it) and advances the version; `created: false` when the same
   * file is there already.
   */
  async addFile(
    options: AddFileOptions,
    trx?: Knex.Transaction,
  ): Promise<{ file: HubFile; created: boolean }> {
    return conflictOnDuplicate(`File ${options.path} already exists`, () =>
      inTransaction(this.db, trx, async tx => {
        const version = await this.versions.lockVersion(tx, options.versionId);
        const expected: ExpectedFileRow | undefined = await tx(
          'version_expected_files',
        )
          .where({ version_id: version.id, path: options.path })
          .first();
        const hasList = Boolean(
          expected ??
            (await tx('version_expected_files')
              .where({ version_id: version.id })
              .first('path')),
        );
        if (hasList) {
          assertExpected(options, expected, version.label);
          if (!FILLABLE_STATES.includes(version.state as VersionState)) {
            throw notEditable(version);
          }
        } else if (
          !EDITABLE_VERSION_STATES.includes(version.state as VersionState)
        ) {
          throw notEditable(version);
        }
        const result = await this.insertFile(tx, options, new Date());
        if (result.created) {
          await this.advanceVersion(tx, version.id, hasList);
        }
        return result;
      }),
    );
  }

  /** Removes a file of an editable version and releases its blob. */
  async removeFile(
    options: { versionId: string; path: string },
    trx?: Knex.Transaction,
  ): Promise<void> {
    const now = new Date();
    await inTransaction(this.db, trx, async tx => {
      const version = await this.versions.lockVersion(tx, options.versionId);
      if (!EDITABLE_VERSION_STATES.includes(version.state as VersionState)) {
        throw notEditable(version);
      }
      const existing = await tx<FileRow>('version_files')
        .where({ version_id: options.versionId, path: options.path })
        .first();
      if (!existing) {
        throw new NotFoundError(`File ${options.path} not found`);
      }
      await tx('version_files').where({ id: existing.id }).delete();
      await tx('blobs')
        .where({ sha256: existing.sha256 })
        .update({
          ref_count: tx.raw('ref_count - 1'),
          last_referenced_at: now,
        });
      const hasList = Boolean(
        await tx('version_expected_files')
          .where({ version_id: options.versionId })
          .first('path'),
      );
      await this.advanceVersion(tx, options.versionId, hasList);
    });
  }

  /**
   * Inserts a file (and its blob reference and uploader) into a version,
   * without the version checks of {@link FilesStore.addFile} and without
   * advancing the version (see {@link FilesStore.advanceVersion}).
   */
  async insertFile(
    tx: Knex.Transaction,
    options: AddFileOptions,
    now: Date,
  ): Promise<{ file: HubFile; created: boolean }> {
    const existing = await tx<FileRow>('version_files')
      .where({ version_id: options.versionId, path: options.path })
      .first();
    if (existing) {
      if (existing.sha256 === options.blob.sha256) {
        return { file: mapFile(existing), created: false };
      }
      throw new ConflictError(
        `File ${options.path} already exists with other content`,
      );
    }
    await tx('blobs')
      .insert({
        sha256: options.blob.sha256,
        size: options.blob.size,
        ref_count: 1,
        location: options.blob.location,
        created_at: now,
        last_referenced_at: now,
      })
      .onConflict('sha256')
      .merge({
        ref_count: tx.raw('?? + 1', ['blobs.ref_count']),
        last_referenced_at: now,
      });
    const row: FileRow = {
      id: randomUUID(),
      version_id: options.versionId,
      path: options.path,
      size: options.blob.size,
      sha256: options.blob.sha256,
      kind: options.kind,
      created_by: options.createdBy,
      created_at: now,
    };
    await tx('version_files').insert(row);
    await this.versions.addContributor(
      tx,
      options.versionId,
      options.createdBy,
      now,
    );
    return { file: mapFile(row), created: true };
  }

  /**
   * Advances the revision of a version and recomputes its content digest:
   * over its files, or for a version with an expected file list (HF) over
   * that list, which the files only fill in.
   */
  async advanceVersion(
    tx: Knex.Transaction,
    versionId: string,
    hasList: boolean,
  ): Promise<void> {
    const digest = hasList
      ? expectedDigest(await this.versions.expectedFileRows(tx, versionId))
      : contentDigest(
          await tx('version_files')
            .where({ version_id: versionId })
            .select('path', 'sha256', 'size'),
        );
    await this.versions.advanceRevision(tx, versionId, {
      contentDigest: digest,
    });
  }

  /**
   * Deletes the files of a version or of every version of a model and
   * releases their blobs (the references of each blob drop by its files;
   * the garbage collection removes a blob once it has been unreferenced
   * for its grace period). Returns the files and bytes released.
   */
  async releaseFiles(
    trx: Knex.Transaction | undefined,
    selection: FileSelection,
    now: Date = new Date(),
  ): Promise<{ files: number; bytes: number }> {
    return inTransaction(this.db, trx, async tx => {
      const select = (q: Knex.QueryBuilder) =>
        'versionId' in selection
          ? q.where('f.version_id', selection.versionId)
          : q
              .join('model_versions as v', 'v.id', 'f.version_id')
              .where('v.model_id', selection.modelId);
      const counts = (await select(tx('version_files as f'))
        .groupBy('f.sha256')
        .select('f.sha256')
        .count({ n: '*' })
        .sum({ bytes: 'f.size' })) as Array<{
        sha256: string;
        n: number | string;
        bytes: number | string | null;
      }>;
      let files = 0;
      let bytes = 0;
      for (const c of counts) {
        files += Number(c.n);
        bytes += Number(c.bytes ?? 0);
        await tx('blobs')
          .where({ sha256: c.sha256 })
          .update({
            ref_count: tx.raw('ref_count - ?', [Number(c.n)]),
            last_referenced_at: now,
          });
      }
      // explicit, not only by cascade: SQLite enforces foreign keys only
      // when the connection enables them
      await tx('version_files')
        .whereIn(
          'version_id',
          'versionId' in selection
            ? [selection.versionId]
            : tx('model_versions')
                .where({ model_id: selection.modelId })
                .select('id'),
        )
        .delete();
      return { files, bytes };
    });
  }

  async getFile(options: {
    versionId: string;
    path: string;
  }): Promise<HubFile | undefined> {
    const row = await this.db<FileRow>('version_files')
      .where({ version_id: options.versionId, path: options.path })
      .first();
    return row ? mapFile(row) : undefined;
  }

  async listFiles(options: { versionId: string }): Promise<HubFile[]> {
    const rows = await this.db<FileRow>('version_files')
      .where({ version_id: options.versionId })
      .orderBy('path', 'asc');
    return rows.map(r => mapFile(r));
  }

  async getBlob(options: { sha256: string }): Promise<HubBlob | undefined> {
    const row = await this.db<BlobRow>('blobs')
      .where({ sha256: options.sha256 })
      .first();
    return row ? mapBlob(row) : undefined;
  }

  async listUnreferencedBlobs(options: {
    before: Date;
    limit: number;
  }): Promise<HubBlob[]> {
    const rows = await this.db<BlobRow>('blobs')
      .where('ref_count', '<=', 0)
      .where('last_referenced_at', '<', options.before)
      .orderBy('sha256')
      .limit(options.limit);
    return rows.map(r => mapBlob(r));
  }

  /**
   * Deletes a blob row that is still unreferenced since `before` and runs
   * `fn` (deleting its bytes) in the same transaction; false when it is
   * referenced again.
   */
  async deleteUnreferencedBlob(options: {
    sha256: string;
    before: Date;
    fn: () => Promise<void>;
  }): Promise<boolean> {
    return this.db.transaction(async tx => {
      const deleted = await tx('blobs')
        .where({ sha256: options.sha256 })
        .where('ref_count', '<=', 0)
        .where('last_referenced_at', '<', options.before)
        .delete();
      if (!deleted) {
        return false;
      }
      await options.fn();
      return true;
    });
  }

  async findBlobs(options: { sha256s: string[] }): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < options.sha256s.length; i += 500) {
      const rows = await this.db('blobs')
        .whereIn('sha256', options.sha256s.slice(i, i + 500))
        .select('sha256');
      rows.forEach(r => found.add(r.sha256));
    }
    return found;
  }
}
