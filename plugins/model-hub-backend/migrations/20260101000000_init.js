// @ts-check

/**
 * The Model Hub schema: models (keyed by their catalog entity ref), their
 * versions and files, the content-addressed blobs the files point at, jobs
 * with leases and logs, reviews, and an audit trail.
 *
 * Only portable column types are used so that the same migration runs on
 * SQLite and PostgreSQL. Timestamps are stored with time zone; JSON payloads
 * are stored as text and parsed by the store.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('models', table => {
    table.comment('Models, one row per catalog entity ref of kind Model');
    table.string('id', 36).primary().notNullable();
    table
      .string('entity_ref', 255)
      .notNullable()
      .unique({ indexName: 'models_entity_ref_uq' })
      .comment('model:<namespace>/<name>, lower case');
    table.string('namespace', 63).notNullable();
    table.string('name', 63).notNullable();
    table.string('title', 255).nullable();
    table.text('description').nullable();
    table.string('type', 32).notNullable();
    table.string('task', 128).nullable();
    table.string('format', 32).nullable();
    table.string('license', 128).nullable();
    table.string('lifecycle', 64).notNullable();
    table.string('owner', 255).notNullable().comment('Normalised entity ref');
    table
      .string('source_type', 32)
      .notNullable()
      .comment('upload or huggingface');
    table.text('source').nullable().comment('JSON of the ModelSource');
    table.text('tags').notNullable().defaultTo('[]').comment('JSON array');
    table
      .text('search_text')
      .notNullable()
      .comment('Lower-cased name, title, description and tags, for search');
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.index(['name', 'id'], 'models_name_idx');
    table.index(['updated_at', 'id'], 'models_updated_at_idx');
    table.index(['created_at', 'id'], 'models_created_at_idx');
    table.index(['owner'], 'models_owner_idx');
    table.index(['type'], 'models_type_idx');
    table.index(['source_type'], 'models_source_type_idx');
  });

  await knex.schema.createTable('model_tags', table => {
    table.comment('Tags of models, for indexed tag filters');
    table
      .string('model_id', 36)
      .notNullable()
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table.string('tag', 63).notNullable();
    table.primary(['model_id', 'tag']);
    table.index(['tag', 'model_id'], 'model_tags_tag_idx');
  });

  await knex.schema.createTable('model_versions', table => {
    table.comment('Versions of models');
    table.string('id', 36).primary().notNullable();
    table
      .string('model_id', 36)
      .notNullable()
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table.string('label', 128).notNullable();
    table
      .string('state', 32)
      .notNullable()
      .comment(
        'draft, in_review, approved, changes_requested, rejected, deprecated, archived',
      );
    table.string('source_type', 32).notNullable();
    table.text('source').nullable().comment('JSON');
    table.string('resolved_commit', 64).nullable();
    table.string('manifest_digest', 71).nullable();
    table.text('notes').nullable();
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table
      .integer('revision')
      .notNullable()
      .defaultTo(0)
      .comment('Optimistic concurrency counter, bumped by every update');
    table.unique(['model_id', 'label'], {
      indexName: 'model_versions_model_label_uq',
    });
    table.index(['model_id', 'state'], 'model_versions_model_state_idx');
    table.index(['state'], 'model_versions_state_idx');
  });

  await knex.schema.createTable('blobs', table => {
    table.comment('Content-addressed blobs of the artifact store');
    table.string('sha256', 64).primary().notNullable();
    table.bigInteger('size').notNullable();
    table
      .integer('ref_count')
      .notNullable()
      .defaultTo(0)
      .comment('Number of file rows that point at the blob');
    table.string('location', 1024).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('last_referenced_at', { useTz: true }).notNullable();
    table.index(['ref_count'], 'blobs_ref_count_idx');
  });

  await knex.schema.createTable('version_files', table => {
    table.comment('Files of a version; the content lives in a blob');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('path', 1024).notNullable();
    table.bigInteger('size').notNullable();
    table
      .string('sha256', 64)
      .notNullable()
      .references('sha256')
      .inTable('blobs');
    table
      .string('kind', 16)
      .notNullable()
      .comment('weights, config, tokenizer, docs or other');
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.unique(['version_id', 'path'], {
      indexName: 'version_files_version_path_uq',
    });
    table.index(['sha256'], 'version_files_sha256_idx');
  });

  await knex.schema.createTable('jobs', table => {
    table.comment('Background jobs (downloads, scans) with leases');
    table.string('id', 36).primary().notNullable();
    table.string('type', 64).notNullable();
    table
      .string('state', 16)
      .notNullable()
      .comment('queued, running, succeeded, failed, cancelled');
    table
      .string('model_id', 36)
      .nullable()
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table
      .string('version_id', 36)
      .nullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('SET NULL');
    table.text('params').notNullable().defaultTo('{}').comment('JSON');
    table.text('progress').notNullable().defaultTo('{}').comment('JSON');
    table.integer('attempts').notNullable().defaultTo(0);
    table.integer('max_attempts').notNullable().defaultTo(3);
    table.string('leased_by', 255).nullable();
    table.timestamp('lease_expires_at', { useTz: true }).nullable();
    table.text('error').nullable();
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.timestamp('started_at', { useTz: true }).nullable();
    table.timestamp('finished_at', { useTz: true }).nullable();
    table.index(['state', 'created_at'], 'jobs_state_created_idx');
    table.index(['model_id'], 'jobs_model_idx');
  });

  await knex.schema.createTable('job_logs', table => {
    table.comment('Log lines of jobs');
    table.bigIncrements('id').primary();
    table
      .string('job_id', 36)
      .notNullable()
      .references('id')
      .inTable('jobs')
      .onDelete('CASCADE');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.string('level', 8).notNullable();
    table.text('message').notNullable();
    table.index(['job_id', 'id'], 'job_logs_job_idx');
  });

  await knex.schema.createTable('version_reviews', table => {
    table.comment('Reviews and approvals of versions');
    table.string('id', 36).primary().notNullable();
    table
      .string('version_id', 36)
      .notNullable()
      .references('id')
      .inTable('model_versions')
      .onDelete('CASCADE');
    table.string('reviewer', 255).notNullable();
    table
      .string('decision', 32)
      .notNullable()
      .comment('comment, request_changes, approve, reject');
    table.text('comment').nullable();
    table
      .string('subject_digest', 71)
      .nullable()
      .comment('Manifest digest the decision was made on');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['version_id', 'created_at'], 'version_reviews_version_idx');
  });

  await knex.schema.createTable('audit_events', table => {
    table.comment('Audit trail of every Model Hub mutation');
    table.bigIncrements('id').primary();
    table.string('event_id', 64).notNullable();
    table.string('actor', 255).notNullable();
    table.string('model_ref', 255).nullable();
    table.string('version_label', 128).nullable();
    table.text('meta').notNullable().defaultTo('{}').comment('JSON');
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.index(['model_ref', 'id'], 'audit_events_model_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('audit_events');
  await knex.schema.dropTable('version_reviews');
  await knex.schema.dropTable('job_logs');
  await knex.schema.dropTable('jobs');
  await knex.schema.dropTable('version_files');
  await knex.schema.dropTable('blobs');
  await knex.schema.dropTable('model_versions');
  await knex.schema.dropTable('model_tags');
  await knex.schema.dropTable('models');
};
