import { Knex } from 'knex';

/** A download in progress. @internal */
export type PartialDownload = {
  blobKey: string;
  url: string;
  etag?: string;
  size: number;
  /** Bytes written and fsynced; a resume starts here. */
  durableOffset: number;
  tempPath: string;
  jobId?: string;
};

/**
 * Rows of `hf_partial_downloads`: how far a download got durably, so that a
 * worker (on this or a restarted instance) resumes it with an HTTP Range.
 *
 * @internal
 */
export class PartialDownloadStore {
  constructor(private readonly db: Knex) {}

  async get(blobKey: string): Promise<PartialDownload | undefined> {
    const row = await this.db('hf_partial_downloads')
      .where({ blob_key: blobKey })
      .first();
    if (!row) {
      return undefined;
    }
    return {
      blobKey: row.blob_key,
      url: row.url,
      etag: row.etag ?? undefined,
      size: Number(row.size),
      durableOffset: Number(row.durable_offset),
      tempPath: row.temp_path,
      jobId: row.job_id ?? undefined,
    };
  }

  async put(download: PartialDownload): Promise<void> {
    const row = {
      blob_key: download.blobKey,
      url: download.url,
      etag: download.etag ?? null,
      size: download.size,
      durable_offset: download.durableOffset,
      temp_path: download.tempPath,
      job_id: download.jobId ?? null,
      updated_at: new Date(),
    };
    await this.db('hf_partial_downloads')
      .insert(row)
      .onConflict('blob_key')
      .merge();
  }

  async setOffset(blobKey: string, durableOffset: number): Promise<void> {
    await this.db('hf_partial_downloads')
      .where({ blob_key: blobKey })
      .update({ durable_offset: durableOffset, updated_at: new Date() });
  }

  async delete(blobKey: string): Promise<void> {
    await this.db('hf_partial_downloads').where({ blob_key: blobKey }).delete();
  }
}
