// @ts-check

/**
 * The approvals workflow: review rounds (submissions), threaded comments,
 * check results and their waivers, the active version of each model with its
 * history, and the log of outgoing webhook deliveries. Decisions live in the
 * `version_reviews` table of the init migration, which gets the review round
 * they belong to.
 *
 * Only new tables and one added column; portable to SQLite and PostgreSQL.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('version_reviews', table => {
    table
      .integer('round')
      .notNullable()
      .defaultTo(0)
      .comment('Review round (submission number) the decision belongs to');
  });

  await knex.schema.createTable('version_submissions', table => {
    table.comment('Submissions of versions for review, one per review round');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.integer('round').notNullable().comment('1 for the first submission');
    table.string('submitted_by', 255).notNullable();
    table.text('comment').nullable();
    table.timestamp('submitted_at', { useTz: true }).notNullable();
    table.unique(['version_id', 'round'], {
      indexName: 'version_submissions_version_round_uq',
    });
  });

  await knex.schema.createTable('version_comments', table => {
    table.comment('Review comments on versions, threaded by parent');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table
      .string('parent_id', 36)
      .nullable()
      .references('id')
      .inTable('version_comments')
      .onDelete('CASCADE');
    table.string('author', 255).notNullable();
    table.text('body').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['version_id', 'created_at'], 'version_comments_version_idx');
  });

  await knex.schema.createTable('version_checks', table => {
    table.comment('Results of checks (scans, evaluations) of versions');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('name', 128).notNullable();
    table
      .string('status', 16)
      .notNullable()
      .comment('pending, running, passed, failed, error or skipped');
    table
      .boolean('required')
      .notNullable()
      .defaultTo(false)
      .comment('Must pass (or be waived) before the version is submitted');
    table.text('summary').nullable();
    table.string('details_url', 1024).nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.unique(['version_id', 'name'], {
      indexName: 'version_checks_version_name_uq',
    });
  });

  await knex.schema.createTable('check_waivers', table => {
    table.comment('Waivers of required checks, granted by admins');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('check_name', 128).notNullable();
    table.text('reason').notNullable();
    table.string('waived_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.unique(['version_id', 'check_name'], {
      indexName: 'check_waivers_version_check_uq',
    });
  });

  await knex.schema.createTable('model_active_versions', table => {
    table.comment('The active (served) version of each model');
    table
      .string('model_id', 36)
      .primary()
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
    table.string('promoted_by', 255).notNullable();
    table.timestamp('promoted_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('model_active_version_history', table => {
    table.comment('Every change of the active version of a model');
    table.bigIncrements('id').primary();
    table
      .string('model_id', 36)
      .notNullable()
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table
      .string('version_id', 36)
      .nullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('SET NULL');
    table
      .string('action', 16)
      .notNullable()
      .comment('promote, rollback or clear');
    table.string('actor', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['model_id', 'id'], 'model_active_version_history_model_idx');
  });

  await knex.schema.createTable('webhook_deliveries', table => {
    table.comment('Outgoing signed webhook deliveries and their attempts');
    table.string('id', 36).primary().notNullable();
    table.string('event', 64).notNullable();
    table.string('url', 1024).notNullable();
    table.string('model_ref', 255).nullable();
    table.string('version_label', 128).nullable();
    table.text('payload').notNullable().comment('JSON body as sent');
    table
      .string('status', 16)
      .notNullable()
      .comment('pending, succeeded or failed');
    table.integer('attempts').notNullable().defaultTo(0);
    table.integer('response_status').nullable();
    table.text('error').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.index(['created_at', 'id'], 'webhook_deliveries_created_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.dropTable('model_active_version_history');
  await knex.schema.dropTable('model_active_versions');
  await knex.schema.dropTable('check_waivers');
  await knex.schema.dropTable('version_checks');
  await knex.schema.dropTable('version_comments');
  await knex.schema.dropTable('version_submissions');
  await knex.schema.alterTable('version_reviews', table => {
    table.dropColumn('round');
  });
};
