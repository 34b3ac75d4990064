// @ts-check

/**
 * The delta cursor of each Model Hub entity provider (issue 17): where its
 * next delta poll of the hub's entity feed starts. It lives in the catalog's
 * database, not in the memory of one backend instance, so that whichever
 * instance the scheduler gives the task to continues where the last run,
 * on any instance, stopped. This module's migrations keep their own
 * bookkeeping table (`model_hub_provider__knex_migrations`), apart from the
 * catalog's.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('model_hub_provider_cursors', table => {
    table.comment('Delta cursors of the Model Hub entity providers');
    table
      .string('provider_name', 255)
      .primary()
      .notNullable()
      .comment('The name of the provider, model-hub-provider:<id>');
    table
      .string('since', 64)
      .notNullable()
      .comment('The entity feed time (ISO 8601) the next delta starts at');
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('model_hub_provider_cursors');
};
