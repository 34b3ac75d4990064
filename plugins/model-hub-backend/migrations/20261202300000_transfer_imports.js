// @ts-check

/**
 * Air-gapped transfers: the approval evidence a version was imported with
 * from another portal's signed bundle (who approved it there, when, on
 * which content), shown on the version.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('version_imports', table => {
    table.comment('Versions imported from signed transfer bundles');
    table
      .string('version_id', 36)
      .primary()
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('portal', 255).notNullable().comment('The exporting portal');
    table
      .string('trusted_key_name', 255)
      .notNullable()
      .comment(
        'The trusted key (modelHub.transfer.trustedKeys) that verified it',
      );
    table.string('key_id', 71).notNullable().comment('sha256:<hex> of the key');
    table.string('index_digest', 71).notNullable();
    table.string('manifest_digest', 71).notNullable();
    table.string('policy', 16).notNullable().comment('trust or review');
    table.text('evidence').notNullable().comment('JSON, as signed');
    table.string('imported_by', 255).notNullable();
    table.timestamp('imported_at', { useTz: true }).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('version_imports');
};
