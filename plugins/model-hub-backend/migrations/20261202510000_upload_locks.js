// @ts-check

/**
 * The tus lock of an upload, shared by every backend instance (issue 17).
 *
 * - `upload_locks`: at most one row per upload, the request that may touch
 *   the upload's bytes now. `holder` names the request (instance id and a
 *   random part); `expires_at` (epoch milliseconds) is renewed by the
 *   holder's heartbeat, so a holder that died loses the lock after a short
 *   lease; `release_requested` is set by a newer request for the upload,
 *   and the holder, on whichever instance, ends its request when it sees it.
 *   No foreign key: the tus creation request locks the upload before its
 *   `upload_sessions` row exists.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('upload_locks', table => {
    table.comment('The tus lock of an upload (one request at a time)');
    table
      .string('upload_id', 64)
      .primary()
      .notNullable()
      .comment('The tus upload id');
    table
      .string('holder', 255)
      .notNullable()
      .comment('The request holding the lock: instance id and a random part');
    table
      .bigInteger('expires_at')
      .notNullable()
      .comment('Epoch ms after which the lock may be taken over');
    table
      .boolean('release_requested')
      .notNullable()
      .defaultTo(false)
      .comment('A newer request asks the holder to end its request');
    table.bigInteger('acquired_at').notNullable().comment('Epoch ms');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('upload_locks');
};
