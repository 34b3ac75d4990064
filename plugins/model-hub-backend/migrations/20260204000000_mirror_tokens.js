// @ts-check

/**
 * The HF-compatible mirror: personal access tokens (`hf_...`) that users
 * create for Hugging Face clients, and a cache of the git blob ids of small
 * files (the `oid` and `ETag` the Hub reports for files not stored in LFS).
 *
 * Tokens are stored as the SHA-256 of the secret, never the secret itself.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('mirror_tokens', table => {
    table.comment('Personal HF-style access tokens of the mirror');
    table.string('id', 36).primary().notNullable();
    table
      .string('user_entity_ref', 255)
      .notNullable()
      .comment('The user the token acts for');
    table.string('name', 100).notNullable();
    table
      .string('token_prefix', 16)
      .notNullable()
      .comment('The first characters of the token, to recognise it');
    table
      .string('token_hash', 64)
      .notNullable()
      .unique({ indexName: 'mirror_tokens_hash_uq' })
      .comment('Hex SHA-256 of the whole token');
    table
      .text('decision')
      .notNullable()
      .comment(
        'JSON of the download permission decision of the user, taken with their credentials',
      );
    table.timestamp('decided_at', { useTz: true }).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('expires_at', { useTz: true }).nullable();
    table.timestamp('last_used_at', { useTz: true }).nullable();
    table.timestamp('revoked_at', { useTz: true }).nullable();
    table.index(['user_entity_ref'], 'mirror_tokens_user_idx');
  });

  await knex.schema.createTable('mirror_git_oids', table => {
    table.comment('Git blob SHA-1 of blobs, computed once for the mirror');
    table.string('sha256', 64).primary().notNullable();
    table.string('git_sha1', 40).notNullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('mirror_git_oids');
  await knex.schema.dropTable('mirror_tokens');
};
