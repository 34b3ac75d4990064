import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Knex } from 'knex';

const TABLE = 's3_multipart_uploads';

/** The default of `modelHub.storage.s3.multipartStaleAfter`. @internal */
export const DEFAULT_MULTIPART_STALE_AFTER_MS = 120_000;

type Row = {
  id: string;
  bucket: string;
  key: string;
  upload_id: string;
  holder: string;
  started_at: number | string;
  heartbeat_at: number | string;
};

/** Options of {@link S3MultipartRegistry}. @internal */
export type S3MultipartRegistryOptions = {
  /**
   * A registered upload whose writer has not renewed it for this long is
   * a dead writer's: the clean-up aborts it. Defaults to 2 minutes.
   */
  staleAfterMs?: number;
  /**
   * How often a writer renews its uploads. Defaults to an eighth of
   * `staleAfterMs`, at most 15 seconds.
   */
  heartbeatMs?: number;
  /** The clock (epoch ms); tests pass an older one to play a dead writer. */
  now?: () => number;
};

/** A server that does not implement AbortMultipartUpload (s3rver: 405). */
function isNotImplemented(error: any): boolean {
  return (
    error?.name === 'NotImplemented' ||
    error?.name === 'MethodNotAllowed' ||
    error?.$metadata?.httpStatusCode === 405 ||
    error?.$metadata?.httpStatusCode === 501
  );
}

function isNoSuchUpload(error: any): boolean {
  return (
    error?.name === 'NoSuchUpload' ||
    error?.Code === 'NoSuchUpload' ||
    error?.$metadata?.httpStatusCode === 404
  );
}

/**
 * The registry of the S3 artifact store's open multipart uploads (the
 * `s3_multipart_uploads` table), shared by every backend instance through
 * the database, so that the uploads of a killed instance are aborted within
 * minutes, not after the upload expiration.
 *
 * A writer registers its upload right after CreateMultipartUpload, renews
 * the registration every `heartbeatMs` while the upload is open, and
 * removes it after CompleteMultipartUpload or AbortMultipartUpload
 * ({@link S3MultipartRegistry.track}). The clean-up
 * ({@link S3MultipartRegistry.abortStale}) aborts only uploads whose
 * heartbeat is older than `staleAfterMs`: a live writer renews many times
 * in that window, so its upload is never taken for dead unless its
 * instance could not reach the database for that long (the writer's
 * upload then fails at its next part or at its completion; S3 never shows
 * a partial object).
 *
 * The uploads of `@tus/s3-store` (live tus uploads that last up to the
 * upload expiration) are not registered here; they stay on the age rule.
 *
 * @internal
 */
export class S3MultipartRegistry {
  readonly staleAfterMs: number;
  private readonly heartbeatMs: number;
  private readonly now: () => number;
  private readonly holder = `${hostname()}:${process.pid}`;

  constructor(
    private readonly db: Knex,
    options: S3MultipartRegistryOptions = {},
  ) {
    this.staleAfterMs =
      options.staleAfterMs ?? DEFAULT_MULTIPART_STALE_AFTER_MS;
    this.heartbeatMs =
      options.heartbeatMs ?? Math.min(15_000, this.staleAfterMs / 8);
    this.now = options.now ?? Date.now;
  }

  /** Registers an open upload; returns the id of its row. */
  async register(upload: {
    bucket: string;
    key: string;
    uploadId: string;
  }): Promise<string> {
    const id = randomUUID();
    const now = this.now();
    await this.db<Row>(TABLE).insert({
      id,
      bucket: upload.bucket,
      key: upload.key,
      upload_id: upload.uploadId,
      holder: this.holder,
      started_at: now,
      heartbeat_at: now,
    });
    return id;
  }

  /** Renews a registration; false when it is gone (taken for dead). */
  async renew(id: string): Promise<boolean> {
    const updated = await this.db<Row>(TABLE)
      .where({ id })
      .update({ heartbeat_at: this.now() });
    return updated > 0;
  }

  /** Removes a registration (its upload was completed or aborted). */
  async remove(id: string): Promise<void> {
    await this.db<Row>(TABLE).where({ id }).delete();
  }

  /** The registered uploads, oldest first (for tests and diagnosis). */
  async list(): Promise<
    {
      id: string;
      bucket: string;
      key: string;
      uploadId: string;
      holder: string;
      startedAt: number;
      heartbeatAt: number;
    }[]
  > {
    const rows = await this.db<Row>(TABLE).orderBy('started_at', 'asc');
    return rows.map(r => ({
      id: r.id,
      bucket: r.bucket,
      key: r.key,
      uploadId: r.upload_id,
      holder: r.holder,
      startedAt: Number(r.started_at),
      heartbeatAt: Number(r.heartbeat_at),
    }));
  }

  /**
   * An S3 client for one write (a lib-storage `Upload`, which calls only
   * `send` and reads `config`): the multipart upload it creates is
   * registered before CreateMultipartUpload's answer reaches the writer
   * (if the registration fails, the upload is aborted and the write fails),
   * renewed every `heartbeatMs`, and unregistered once completed or
   * aborted. `close()` stops the renewal; call it when the write settled:
   * a registration still there then (the write failed and its abort too)
   * goes stale and a clean-up aborts the upload.
   */
  track(client: S3Client): { client: S3Client; close: () => void } {
    let id: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearInterval(timer);
      timer = undefined;
    };
    const send = async (command: any, ...rest: any[]) => {
      const output = await (client.send as any)(command, ...rest);
      if (command instanceof CreateMultipartUploadCommand) {
        const { Bucket, Key } = command.input;
        const UploadId = output.UploadId;
        try {
          id = await this.register({
            bucket: Bucket!,
            key: Key!,
            uploadId: UploadId,
          });
        } catch (error) {
          await client
            .send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
            .catch(() => {});
          throw error;
        }
        const registered = id;
        timer = setInterval(() => {
          // a database error is retried at the next beat; a registration
          // taken for dead ends in NoSuchUpload at the next part
          this.renew(registered).catch(() => {});
        }, this.heartbeatMs);
        timer.unref?.();
      } else if (
        id &&
        (command instanceof CompleteMultipartUploadCommand ||
          command instanceof AbortMultipartUploadCommand)
      ) {
        stop();
        const done = id;
        id = undefined;
        // a row left by a failed delete goes stale; its abort then finds
        // no such upload and removes it
        await this.remove(done).catch(() => {});
      }
      return output;
    };
    return {
      client: { config: client.config, send } as unknown as S3Client,
      close: stop,
    };
  }

  /**
   * Aborts the registered uploads whose heartbeat is older than
   * `staleAfterMs` and removes their rows; returns how many. Each row is
   * claimed first (deleted while still stale), so concurrent clean-ups on
   * several instances abort an upload once, and a writer that renews after
   * the claim finds its row gone. An abort that fails (other than "no such
   * upload") puts the row back for the next clean-up, and is thrown after
   * the others were tried; on a server that does not implement the abort,
   * nothing is thrown and nothing more is tried.
   */
  async abortStale(client: S3Client): Promise<number> {
    const cutoff = this.now() - this.staleAfterMs;
    const stale = await this.db<Row>(TABLE)
      .where('heartbeat_at', '<', cutoff)
      .orderBy('heartbeat_at', 'asc')
      .limit(1000);
    let aborted = 0;
    let failure: unknown;
    for (const row of stale) {
      const claimed = await this.db<Row>(TABLE)
        .where({ id: row.id })
        .where('heartbeat_at', '<', cutoff)
        .delete();
      if (!claimed) {
        continue; // renewed since, or claimed by another clean-up
      }
      try {
        await client.send(
          new AbortMultipartUploadCommand({
            Bucket: row.bucket,
            Key: row.key,
            UploadId: row.upload_id,
          }),
        );
        aborted += 1;
      } catch (error) {
        if (!isNoSuchUpload(error)) {
          await this.db<Row>(TABLE).insert(row);
          if (isNotImplemented(error)) {
            break;
          }
          failure ??= error;
        }
      }
    }
    if (failure) {
      throw failure;
    }
    return aborted;
  }
}
