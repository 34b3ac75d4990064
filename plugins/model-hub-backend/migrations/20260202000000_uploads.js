// @ts-check

/**
 * Resumable uploads (tus) and the checks of versions.
 *
 * - `upload_sessions`: one row per tus upload, binding the server-generated
 *   upload id to a model, a version, a file path and the caller who created
 *   it. The bytes live in the upload folder; the row holds what the tus
 *   file store keeps in its config store.
 * - `version_checks` (created by the approvals migration) gets a `details`
 *   column: the JSON details of format inspections and pickle scans, which
 *   are stored as checks of the version that the approvals workflow reads.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('upload_sessions', table => {
    table.comment('Resumable (tus) uploads in progress');
    table
      .string('id', 64)
      .primary()
      .notNullable()
      .comment('Server-generated upload id (32 hex characters)');
    table
      .string('model_id', 36)
      .notNullable()
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('model_ref', 255).notNullable();
    table.string('path', 1024).notNullable();
    table.bigInteger('size').nullable().comment('Upload-Length, when known');
    table
      .text('upload')
      .notNullable()
      .comment('JSON of the tus upload (metadata, creation date)');
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['version_id'], 'upload_sessions_version_idx');
    table.index(['created_at'], 'upload_sessions_created_idx');
  });

  // version_checks belongs to the approvals migration; inspections add
  // their JSON details (parameter counts, dtypes, pickle imports) to it
  await knex.schema.alterTable('version_checks', table => {
    table
      .text('details')
      .nullable()
      .comment('JSON details of a check (format inspection, pickle scan)');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('version_checks', table => {
    table.dropColumn('details');
  });
  await knex.schema.dropTable('upload_sessions');
};
