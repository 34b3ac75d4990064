// @ts-check

/**
 * When the catalog module last reported a catalog-defined model (as the
 * catalog processed it, before the catalog committed it): a reconcile pass
 * reading the catalog in between must neither revert the reported fields
 * nor orphan a model reported but not yet visible.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('models', table => {
    table
      .timestamp('catalog_notified_at', { useTz: true })
      .nullable()
      .comment('When the catalog module last reported the entity');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('models', table => {
    table.dropColumn('catalog_notified_at');
  });
};
