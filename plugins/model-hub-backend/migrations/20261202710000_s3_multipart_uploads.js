// @ts-check

/**
 * The open S3 multipart uploads of the artifact store (issue 17).
 *
 * - `s3_multipart_uploads`: one row per multipart upload the S3 artifact
 *   store has created and not yet completed or aborted. The writer inserts
 *   it right after CreateMultipartUpload, renews `heartbeat_at` (epoch
 *   milliseconds) while it sends the parts, and deletes it after
 *   CompleteMultipartUpload or AbortMultipartUpload. A row whose heartbeat
 *   is older than `modelHub.storage.s3.multipartStaleAfter` is the upload
 *   of a dead writer (its instance was killed): the store's clean-up, on
 *   any instance, aborts the upload by its id and removes the row. The
 *   upload id is what AbortMultipartUpload needs, so no ListMultipartUploads
 *   (which some S3-compatible servers lack) is involved.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('s3_multipart_uploads', table => {
    table.comment('Open S3 multipart uploads of the artifact store');
    table
      .string('id', 36)
      .primary()
      .notNullable()
      .comment('A random id of the row');
    table.string('bucket', 255).notNullable().comment('The bucket');
    table.string('key', 1024).notNullable().comment('The object key');
    table
      .text('upload_id')
      .notNullable()
      .comment('The UploadId that CreateMultipartUpload answered');
    table
      .string('holder', 255)
      .notNullable()
      .comment('The writing instance (host and process id), for diagnosis');
    table.bigInteger('started_at').notNullable().comment('Epoch ms');
    table
      .bigInteger('heartbeat_at')
      .notNullable()
      .comment('Epoch ms of the last renewal by the writer');
    table.index(['heartbeat_at'], 's3_multipart_uploads_heartbeat_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('s3_multipart_uploads');
};
