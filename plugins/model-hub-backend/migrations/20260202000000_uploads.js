// @ts-check

/**
 * Resumable uploads (tus) and the checks of versions.
 *
 * - `upload_sessions`: one row per tus upload, binding the server-generated
 *   upload id to a model, a version, a file path and the caller who created
 *   it. The bytes live in the upload folder; the row holds what the tus
 *   file store keeps in its config store.
 * - `version_checks`: results of inspections (format, safety) of a version's
 *   files, read by the approvals workflow. Created here unless an earlier
 *   migration (approvals) already created it; `down` only drops it when this
 *   migration created it, which the marker table `version_checks_owner`
 *   records.
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

  if (!(await knex.schema.hasTable('version_checks'))) {
    await knex.schema.createTable('version_checks', table => {
      table.comment(
        'Checks (format inspection, safety scans) of the files of a version',
      );
      table.string('id', 36).primary().notNullable();
      table
        .string('version_id', 36)
        .notNullable()
        .references('id')
        .inTable('model_versions')
        .onDelete('CASCADE');
      table
        .string('name', 255)
        .notNullable()
        .comment('e.g. format:safetensors:model.safetensors');
      table.string('status', 16).notNullable().comment('pass, warn or fail');
      table.text('summary').notNullable();
      table.text('details').notNullable().defaultTo('{}').comment('JSON');
      table.timestamp('created_at', { useTz: true }).notNullable();
      table.index(['version_id', 'name'], 'version_checks_version_idx');
    });
    await knex.schema.createTable('version_checks_owner', table => {
      table.comment(
        'Marker: version_checks was created by the uploads migration',
      );
      table.string('migration', 64).primary();
    });
    await knex('version_checks_owner').insert({
      migration: '20260202000000_uploads',
    });
  }
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  if (await knex.schema.hasTable('version_checks_owner')) {
    await knex.schema.dropTable('version_checks_owner');
    await knex.schema.dropTable('version_checks');
  }
  await knex.schema.dropTable('upload_sessions');
};
