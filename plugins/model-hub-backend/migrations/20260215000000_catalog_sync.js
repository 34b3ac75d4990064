// @ts-check

/**
 * Catalog and hub as one: models defined in the catalog are reconciled into
 * hub rows (`catalog_hash` of the applied fields, `catalog_seen_at` of the
 * last reconcile pass that saw them, `orphaned_at` once the catalog no
 * longer holds them, `system`), and the state of the reconcile pass lives in
 * `catalog_sync_state`, so a restarted backend resumes it.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('models', table => {
    table
      .string('system', 255)
      .nullable()
      .comment('Entity ref of the system the model is part of');
    table
      .string('catalog_hash', 64)
      .nullable()
      .comment('SHA-256 of the catalog fields last applied (catalog models)');
    table
      .timestamp('catalog_seen_at', { useTz: true })
      .nullable()
      .comment('When a reconcile pass or a catalog change last saw the entity');
    table
      .timestamp('orphaned_at', { useTz: true })
      .nullable()
      .comment('Set when the catalog no longer holds a catalog-defined model');
  });
  await knex.schema.createTable('catalog_sync_state', table => {
    table.comment('State of the catalog to hub reconcile pass');
    table.string('id', 64).primary().notNullable();
    table
      .timestamp('pass_started_at', { useTz: true })
      .nullable()
      .comment('Start of the pass in progress; null between passes');
    table.text('cursor').nullable().comment('Catalog cursor of the next page');
    table.timestamp('last_completed_at', { useTz: true }).nullable();
    table.text('last_error').nullable();
    table.text('last_result').nullable().comment('JSON counts of the last pass');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('catalog_sync_state');
  await knex.schema.alterTable('models', table => {
    table.dropColumn('orphaned_at');
    table.dropColumn('catalog_seen_at');
    table.dropColumn('catalog_hash');
    table.dropColumn('system');
  });
};
