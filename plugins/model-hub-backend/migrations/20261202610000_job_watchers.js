// @ts-check

/**
 * Who receives the live job signals (issue 17 point 4): the users who listed
 * jobs recently, each with the models they may read, as their own
 * credentials decided at that read (the read condition of `GET /jobs`,
 * JSON). A job's signal goes to the watchers whose condition admits the
 * job's model, until the watch expires; never to everyone.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('job_watchers', table => {
    table.comment('Users who receive job signals, and which models they read');
    table.string('user_ref', 255).primary().notNullable();
    table
      .text('read_condition')
      .notNullable()
      .comment('JSON: the read condition of the last GET /jobs');
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.index(['expires_at'], 'job_watchers_expires_at_idx');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('job_watchers');
};
