// @ts-check

/**
 * Model sources (issue 22): the upstreams models come from.
 *
 * - `model_sources`: sources admins add at run time (sources of the config
 *   live in the config only). The token is a reference (`env:NAME` or
 *   `config:modelHub.sourceSecrets.KEY`), never the token itself.
 * - `model_source_status`: the last check of every source (config and run
 *   time): reachability, credentials, rate limit, last error, and when its
 *   failure was notified (once per failure).
 * - `source_name` on registered repos, models and versions: the source they
 *   came from. A repo id is unique per source, not globally: the same id on
 *   two sources is two upstreams. Existing rows belong to the source of the
 *   single `modelHub.huggingface` block, named `huggingface`.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('model_sources', table => {
    table.comment('Model sources added at run time');
    table.string('name', 64).primary().notNullable();
    table.string('kind', 32).notNullable().comment('huggingface or local');
    table.string('endpoint', 1024).nullable();
    table.string('root', 1024).nullable().comment('local: the folder');
    table
      .string('token_ref', 255)
      .nullable()
      .comment('env:NAME or config:modelHub.sourceSecrets.KEY, never a token');
    table.text('include').nullable().comment('JSON array of globs');
    table.text('exclude').nullable().comment('JSON array of globs');
    table.text('allowed_organizations').nullable().comment('JSON array');
    table.string('namespace', 255).notNullable();
    table.integer('sync_minutes').notNullable().defaultTo(60);
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('model_source_status', table => {
    table.comment('The last status check of every model source');
    table.string('source_name', 64).primary().notNullable();
    table.boolean('reachable').nullable();
    table
      .string('credentials', 16)
      .nullable()
      .comment('valid, invalid, none (no token) or unknown');
    table.string('account', 255).nullable().comment('whoami name');
    table.text('rate_limit').nullable().comment('JSON: what the Hub reported');
    table.text('last_error').nullable();
    table.timestamp('checked_at', { useTz: true }).nullable();
    table.timestamp('last_ok_at', { useTz: true }).nullable();
    table.timestamp('failing_since', { useTz: true }).nullable();
    table
      .timestamp('notified_at', { useTz: true })
      .nullable()
      .comment('When the current failure was notified (once per failure)');
    table.timestamp('last_scheduled_sync_at', { useTz: true }).nullable();
  });

  await knex.schema.alterTable('hf_repos', table => {
    table
      .string('source_name', 64)
      .notNullable()
      .defaultTo('huggingface')
      .comment('The model source the repo is registered from');
  });
  await knex.schema.alterTable('hf_repos', table => {
    table.dropUnique(['repo_id'], 'hf_repos_repo_id_uq');
  });
  await knex.schema.alterTable('hf_repos', table => {
    table.unique(['source_name', 'repo_id'], {
      indexName: 'hf_repos_source_repo_uq',
    });
  });

  for (const name of ['models', 'model_versions']) {
    await knex.schema.alterTable(name, table => {
      table
        .string('source_name', 64)
        .nullable()
        .comment('The model source it came from');
      table.index(['source_name'], `${name}_source_name_idx`);
    });
  }
  await knex('models')
    .whereIn('id', knex('hf_repos').select('model_id'))
    .update({ source_name: 'huggingface' });
  await knex('model_versions')
    .where('source_type', 'huggingface')
    .update({ source_name: 'huggingface' });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  for (const name of ['models', 'model_versions']) {
    await knex.schema.alterTable(name, table => {
      table.dropIndex(['source_name'], `${name}_source_name_idx`);
    });
    await knex.schema.alterTable(name, table => {
      table.dropColumn('source_name');
    });
  }
  await knex.schema.alterTable('hf_repos', table => {
    table.dropUnique(['source_name', 'repo_id'], 'hf_repos_source_repo_uq');
  });
  await knex.schema.alterTable('hf_repos', table => {
    table.unique(['repo_id'], { indexName: 'hf_repos_repo_id_uq' });
  });
  await knex.schema.alterTable('hf_repos', table => {
    table.dropColumn('source_name');
  });
  await knex.schema.dropTable('model_source_status');
  await knex.schema.dropTable('model_sources');
};
