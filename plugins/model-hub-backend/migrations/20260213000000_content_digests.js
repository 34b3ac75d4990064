// @ts-check

const { createHash } = require('node:crypto');

/**
 * Approvals bound to content: every version has a content digest (sha256
 * over the sorted path, sha256 and size of its files) that each change of
 * its files advances with its revision; a submission freezes the digest
 * it submitted, a decision and a waiver record the digest they were made
 * on, and an approved version keeps the digest it was approved with (the
 * mirror and the download route serve it only while its files still
 * match). Everyone who put a file into a version is recorded, for
 * separation of duties; an HF version keeps the file list (paths and
 * hashes) it was synced with, which later downloads must match.
 *
 * Existing versions get the digest of their files; approved and deprecated
 * ones are taken as approved with their current files.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('model_versions', table => {
    table
      .string('content_digest', 71)
      .nullable()
      .comment(
        'sha256:<hex> over the sorted (path, sha256, size) of the files',
      );
    table
      .string('approved_digest', 71)
      .nullable()
      .comment('The content digest the version was approved with');
  });
  await knex.schema.alterTable('version_submissions', table => {
    table
      .string('content_digest', 71)
      .nullable()
      .comment('The content digest that was submitted for review');
  });
  await knex.schema.alterTable('version_reviews', table => {
    table
      .string('content_digest', 71)
      .nullable()
      .comment('The content digest the decision was made on');
  });
  await knex.schema.alterTable('check_waivers', table => {
    table
      .string('content_digest', 71)
      .nullable()
      .comment(
        'The content digest the waiver holds for; lapses when it changes',
      );
  });

  await knex.schema.createTable('version_contributors', table => {
    table.comment('Principals who put a file into a version');
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('principal', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.primary(['version_id', 'principal']);
  });

  await knex.schema.createTable('version_expected_files', table => {
    table.comment(
      'The file list an HF version was synced with; downloads must match it',
    );
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('path', 1024).notNullable();
    table.bigInteger('size').notNullable();
    table.string('sha256', 64).nullable().comment('LFS files');
    table.string('git_oid', 40).nullable().comment('Files stored in git');
    table.primary(['version_id', 'path']);
  });

  const versions = await knex('model_versions').select('id', 'state');
  for (const version of versions) {
    const files = await knex('version_files')
      .where({ version_id: version.id })
      .select('path', 'sha256', 'size', 'created_by');
    const digest = contentDigest(files);
    await knex('model_versions')
      .where({ id: version.id })
      .update({
        content_digest: digest,
        approved_digest: ['approved', 'deprecated'].includes(version.state)
          ? digest
          : null,
      });
    const principals = [...new Set(files.map(f => f.created_by))];
    if (principals.length) {
      await knex('version_contributors').insert(
        principals.map(principal => ({
          version_id: version.id,
          principal,
          created_at: new Date(),
        })),
      );
    }
  }
};

/**
 * The same digest as `contentDigest` in `src/database/contentDigest.ts`.
 *
 * @param {{ path: string; sha256: string; size: number | string }[]} files
 */
function contentDigest(files) {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => {
    if (a.path === b.path) {
      return 0;
    }
    return a.path < b.path ? -1 : 1;
  });
  for (const f of sorted) {
    hash.update(`${JSON.stringify([f.path, f.sha256, Number(f.size)])}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * SQLite drops a column by copying the table; with foreign keys on, dropping
 * the old `model_versions` would cascade to every file and review. They are
 * switched off around the down migration, which therefore runs outside a
 * transaction.
 */
exports.config = { transaction: false };

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  const sqlite = knex.client.config.client.includes('sqlite');
  if (sqlite) {
    await knex.raw('PRAGMA foreign_keys = OFF');
  }
  try {
    await dropAll(knex);
  } finally {
    if (sqlite) {
      await knex.raw('PRAGMA foreign_keys = ON');
    }
  }
};

/**
 * @param {import('knex').Knex} knex
 */
async function dropAll(knex) {
  await knex.schema.dropTable('version_expected_files');
  await knex.schema.dropTable('version_contributors');
  await knex.schema.alterTable('check_waivers', table => {
    table.dropColumn('content_digest');
  });
  await knex.schema.alterTable('version_reviews', table => {
    table.dropColumn('content_digest');
  });
  await knex.schema.alterTable('version_submissions', table => {
    table.dropColumn('content_digest');
  });
  await knex.schema.alterTable('model_versions', table => {
    table.dropColumn('approved_digest');
    table.dropColumn('content_digest');
  });
}
