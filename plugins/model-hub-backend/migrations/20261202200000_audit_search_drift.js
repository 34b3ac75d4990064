// @ts-check

/**
 * Issue 19: the audit search and upstream drift as a review.
 *
 * - Indexes of `audit_events` for the audit search by actor, event and
 *   date (the model index exists since the first migration).
 * - `hf_repos.last_error_at`: when the last sync or upstream check failed.
 * - `hf_drift_versions`: the versions the scheduled sync created for a new
 *   upstream commit of a tracked revision, with what the drift policy did
 *   with them (submitted for review, notified, waiting for files, blocked).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('audit_events', table => {
    table.index(['actor', 'id'], 'audit_events_actor_idx');
    table.index(['event_id', 'id'], 'audit_events_event_idx');
    table.index(['created_at'], 'audit_events_created_idx');
  });

  await knex.schema.alterTable('hf_repos', table => {
    table
      .timestamp('last_error_at', { useTz: true })
      .nullable()
      .comment('When last_error was recorded');
  });

  await knex.schema.createTable('hf_drift_versions', table => {
    table.comment('Versions created for upstream drift of registered repos');
    table.string('id', 36).primary().notNullable();
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
    table.string('commit', 64).notNullable().comment('The upstream commit');
    table.string('previous_commit', 64).nullable();
    table
      .string('base_version_id', 36)
      .nullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('SET NULL')
      .comment('The active approved version the drift is diffed against');
    table
      .string('policy', 16)
      .notNullable()
      .comment('review, notify or ignore');
    table
      .string('status', 32)
      .notNullable()
      .comment(
        'awaiting_files, submitted, notified, ignored, blocked or failed',
      );
    table.text('detail').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.unique(['version_id'], { indexName: 'hf_drift_versions_version_uq' });
    table.index(['model_id', 'created_at'], 'hf_drift_versions_model_idx');
    table.index(['status'], 'hf_drift_versions_status_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('hf_drift_versions');
  await knex.schema.alterTable('hf_repos', table => {
    table.dropColumn('last_error_at');
  });
  await knex.schema.alterTable('audit_events', table => {
    table.dropIndex(['created_at'], 'audit_events_created_idx');
    table.dropIndex(['event_id', 'id'], 'audit_events_event_idx');
    table.dropIndex(['actor', 'id'], 'audit_events_actor_idx');
  });
};
