// @ts-check

/**
 * Activity and history: a per-day counter of file downloads (API downloads
 * and mirror resolves), for `GET /stats/history`.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('download_counts', table => {
    table.comment('File downloads per UTC day');
    table.string('day', 10).primary().notNullable().comment('YYYY-MM-DD, UTC');
    table.bigInteger('downloads').notNullable().defaultTo(0);
    table.bigInteger('bytes').notNullable().defaultTo(0);
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('download_counts');
};
