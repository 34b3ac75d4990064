// @ts-check

/**
 * Hugging Face sync: registered repositories with their sync state and
 * upstream drift, the file listing of the last synced commit, partial
 * downloads that a restarted worker resumes, tombstones of deleted models
 * for the catalog entity provider, and a `run_after` column on jobs for
 * retry backoff.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('jobs', table => {
    table
      .timestamp('run_after', { useTz: true })
      .nullable()
      .comment('A queued job is not claimed before this time (retry backoff)');
  });

  await knex.schema.createTable('hf_repos', table => {
    table.comment('Hugging Face repositories registered with the hub');
    table.string('id', 36).primary().notNullable();
    table
      .string('model_id', 36)
      .notNullable()
      .unique({ indexName: 'hf_repos_model_uq' })
      .references('id')
      .inTable('models')
      .onDelete('CASCADE');
    table
      .string('repo_id', 255)
      .notNullable()
      .unique({ indexName: 'hf_repos_repo_id_uq' })
      .comment('org/name, as Hugging Face spells it');
    table.string('revision', 255).notNullable().defaultTo('main');
    table
      .string('sync_state', 16)
      .notNullable()
      .comment('pending, synced or failed');
    table.string('last_synced_commit', 40).nullable();
    table.timestamp('last_synced_at', { useTz: true }).nullable();
    table
      .string('upstream_commit', 40)
      .nullable()
      .comment('The newest commit the revision resolved to upstream');
    table.timestamp('upstream_checked_at', { useTz: true }).nullable();
    table
      .boolean('drift')
      .notNullable()
      .defaultTo(false)
      .comment('Upstream has a newer commit than the last synced one');
    table.string('gated', 16).nullable().comment('false, auto or manual');
    table.text('last_error').nullable();
    table.text('card_data').nullable().comment('JSON front matter');
    table.text('config').nullable().comment('JSON config/model_index');
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    table.index(['updated_at'], 'hf_repos_updated_at_idx');
  });

  await knex.schema.createTable('hf_repo_files', table => {
    table.comment('Files of the last synced commit of a registered repo');
    table.bigIncrements('id').primary();
    table
      .string('hf_repo_id', 36)
      .notNullable()
      .references('id')
      .inTable('hf_repos')
      .onDelete('CASCADE');
    table.string('commit', 40).notNullable();
    table.string('path', 1024).notNullable();
    table.bigInteger('size').notNullable();
    table.string('oid', 40).notNullable().comment('git blob sha1');
    table.string('lfs_sha256', 64).nullable();
    table.integer('lfs_pointer_size').nullable();
    table.index(['hf_repo_id'], 'hf_repo_files_repo_idx');
  });

  await knex.schema.createTable('hf_partial_downloads', table => {
    table.comment('Downloads in progress, resumed from durable_offset');
    table
      .string('blob_key', 80)
      .primary()
      .notNullable()
      .comment('sha256:<hex> (LFS) or gitsha1:<hex> (regular files)');
    table.text('url').notNullable();
    table.string('etag', 255).nullable();
    table.bigInteger('size').notNullable();
    table.bigInteger('durable_offset').notNullable().defaultTo(0);
    table.string('temp_path', 1024).notNullable();
    table.string('job_id', 36).nullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('model_tombstones', table => {
    table.comment('Deleted models, for delta removals of the entity provider');
    table.string('entity_ref', 255).primary().notNullable();
    table.timestamp('deleted_at', { useTz: true }).notNullable();
    table.index(['deleted_at'], 'model_tombstones_deleted_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('model_tombstones');
  await knex.schema.dropTable('hf_partial_downloads');
  await knex.schema.dropTable('hf_repo_files');
  await knex.schema.dropTable('hf_repos');
  await knex.schema.alterTable('jobs', table => {
    table.dropColumn('run_after');
  });
};
