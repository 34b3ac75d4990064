import { createHash, Hash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { finished, Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { ERRORS, Upload } from '@tus/server';
import { SequentialFileWriter, WriteMode } from '../store/SequentialFileWriter';
import { UploadSessionsStore } from './UploadSessionsStore';
import { takeSocketBody } from './socketBody';

/** Server-generated upload ids: 32 lower-case hex characters. @internal */
export const UPLOAD_ID_PATTERN = /^[a-f0-9]{32}$/;

const READ_CHUNK = 1024 * 1024;
/**
 * Bytes per write; two such buffers per PATCH in progress. The size of the
 * blocks the writer's write-mode probe uses (and pools), so that an upload
 * takes the probe's page-aligned buffers instead of allocating its own.
 */
const WRITE_BLOCK = 4 * 1024 * 1024;

/**
 * The tus file store with SHA-256 computed as bytes arrive, and durable
 * offsets.
 *
 * - Every PATCH updates the running SHA-256 with exactly the bytes it
 *   accepts and writes them through a {@link SequentialFileWriter} (4 MiB
 *   blocks, direct or buffered as measured for the filesystem), fsyncs every
 *   `syncIntervalBytes` and at its end; the fsynced offset is recorded in
 *   the session row (`durableOffset`).
 * - The running hash lives in memory, with the id of the write that left
 *   it. A Node `Hash` cannot be serialised: it is used as is only when the
 *   session row still names that write and its offset (no other instance
 *   wrote since); when other instances wrote after it, all from offsets at
 *   or after it (the session row lists the latest writes), it is extended by
 *   the bytes they wrote, read from the file; otherwise (after a restart)
 *   the hash is rebuilt by re-hashing the file's prefix `[0, offset)` from
 *   disk (~0.7-1 GB/s) before the next bytes are appended.
 * - Every `getUpload` (called under the upload's lock, shared by all
 *   instances: `DatabaseLocker`) reconciles the file with the durable
 *   offset: bytes beyond it (written but never recorded durable by a writer
 *   that crashed, on any instance) are truncated, so the offset a client
 *   resumes from is always durable. The folder is shared by all instances.
 * - Upload ids are validated against {@link UPLOAD_ID_PATTERN} before any
 *   path is built, so no id can name a file outside the folder.
 *
 * @internal
 */
export class HashingFileStore extends FileStore {
  private readonly hashes = new Map<
    string,
    { hash: Hash; offset: number; writer: string }
  >();

  constructor(
    private readonly opts: {
      directory: string;
      sessions: UploadSessionsStore;
      expirationMs: number;
      syncIntervalBytes: number;
      /** How the bytes are written (default `auto`). */
      writeMode?: WriteMode;
    },
  ) {
    super({
      directory: opts.directory,
      configstore: opts.sessions,
      expirationPeriodInMilliseconds: opts.expirationMs,
    });
  }

  /** The path of an upload's file; throws 404 for an invalid id. */
  filePath(id: string): string {
    if (!UPLOAD_ID_PATTERN.test(id)) {
      throw ERRORS.FILE_NOT_FOUND;
    }
    return join(this.opts.directory, id);
  }

  override async create(upload: Upload): Promise<Upload> {
    this.filePath(upload.id);
    return super.create(upload);
  }

  /**
   * The upload with its offset: the file's size, after the bytes beyond the
   * recorded durable offset are truncated. Call it holding the upload's
   * lock.
   */
  override async getUpload(id: string): Promise<Upload> {
    const path = this.filePath(id);
    const session = await this.opts.sessions.getSession(id);
    if (!session) {
      throw ERRORS.FILE_NOT_FOUND;
    }
    let size: number;
    try {
      const stats = await fs.stat(path);
      if (stats.isDirectory()) {
        throw ERRORS.FILE_NOT_FOUND;
      }
      size = stats.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw ERRORS.FILE_NO_LONGER_EXISTS;
      }
      throw error;
    }
    if (size > session.durableOffset) {
      await fs.truncate(path, session.durableOffset);
      size = session.durableOffset;
    }
    const { upload } = session;
    if (size > 0 && size === upload.size) {
      // every byte is here and so is the upload: the finish, which runs
      // holding this lock and removes the upload, died with its instance.
      // The last byte is handed back, so that the client's next PATCH
      // (tus-js-client sends it after its HEAD) finishes the upload; the
      // commit is idempotent for a file already in the version.
      size -= 1;
      await this.opts.sessions.setDurableOffset(id, size);
      await fs.truncate(path, size);
    }
    return new Upload({
      id,
      size: upload.size,
      offset: size,
      metadata: upload.metadata,
      creation_date: upload.creation_date,
      storage: { type: 'file', path },
    });
  }

  /**
   * The hash of `[0, offset)`: the cached state when this instance's write
   * left it there and the session still names that write; the cached state
   * extended by `[cached, offset)` read from the file when the writes since
   * (on other instances) all started at or after it (so the bytes before it
   * are unchanged); else the whole prefix re-hashed from the file.
   */
  private async hashState(id: string, offset: number) {
    const current = this.hashes.get(id);
    this.hashes.delete(id);
    let state = { hash: createHash('sha256'), offset: 0, writer: '' };
    if (current && current.offset <= offset) {
      const session = await this.opts.sessions.getSession(id);
      if (session?.durableOffset === offset) {
        if (session.writer === current.writer && current.offset === offset) {
          return current;
        }
        // the recorded writes must reach the last writer, each after the
        // cached offset
        const writes = session.writes ?? [];
        const mine = writes.findIndex(
          w => w.writer === current.writer && w.to === current.offset,
        );
        if (
          mine >= 0 &&
          writes[writes.length - 1].writer === session.writer &&
          writes.slice(mine + 1).every(w => w.from >= current.offset)
        ) {
          state = { ...current, writer: '' };
        }
      }
    }
    if (state.offset < offset) {
      const stream = createReadStream(this.filePath(id), {
        start: state.offset,
        end: offset - 1,
        highWaterMark: READ_CHUNK,
      });
      let read = 0;
      for await (const chunk of stream) {
        state.hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      if (read !== offset - state.offset) {
        throw ERRORS.FILE_WRITE_ERROR;
      }
      state.offset = offset;
    }
    return state;
  }

  override async write(
    readable: Readable,
    id: string,
    offset: number,
  ): Promise<number> {
    return this.writeFrom(readable, id, offset, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Appends a stream at `offset`, at most `maxBytes` (more fails with 413,
   * keeping the bytes up to the limit); what arrived before the stream
   * ended or failed is kept, hashed and fsynced.
   */
  async writeFrom(
    readable: Readable,
    id: string,
    offset: number,
    maxBytes: number,
  ): Promise<number> {
    const path = this.filePath(id);
    const state = await this.hashState(id, offset);
    // the state belongs to this write until it ends
    this.hashes.delete(id);
    const writeId = randomBytes(12).toString('hex');
    let writer: SequentialFileWriter | undefined;
    // `position`: bytes hashed and handed to the writer, which copies them
    // into large blocks written (past the page cache where possible) while
    // the next ones fill
    let position = offset;
    let sourceError: unknown;
    try {
      writer = await SequentialFileWriter.open(path, offset, {
        mode: this.opts.writeMode,
        blockSize: WRITE_BLOCK,
        maxInflight: 1,
      });
      let lastSync = offset;
      let syncing: Promise<void> | undefined;
      const startSync = () => {
        if (
          !syncing &&
          writer!.written - lastSync >= this.opts.syncIntervalBytes
        ) {
          // fsync in the background (one at a time) while more bytes
          // arrive; the durable offset is what was written when it started
          lastSync = writer!.written;
          syncing = writer!
            .syncWritten()
            .then(durable =>
              this.opts.sessions.setDurableOffset(id, durable, writeId, offset),
            )
            .finally(() => {
              syncing = undefined;
            });
          syncing.catch(() => {}); // awaited below; no unhandled rejection
        }
      };
      const take = (buf: Buffer) => {
        state.hash.update(buf);
        position += buf.length;
        const wait = writer!.write(buf);
        startSync();
        return wait;
      };
      // a large body of a plain HTTP/1.1 request is read from the socket
      // straight into the writer's blocks (no copy by Node's parser, no
      // buffer per read, no copy into the block)
      const socketBody =
        readable instanceof IncomingMessage
          ? takeSocketBody(readable, maxBytes)
          : undefined;
      // otherwise chunks are taken in 'data' handlers, not an async
      // iterator: no promises or result objects per chunk (the JavaScript
      // garbage of a 2 GiB body grew the young generation, and the resident
      // memory, by tens of MiB); the request pauses while the writer is
      // behind
      let onData: (chunk: Buffer) => void = () => {};
      let stopWatching = () => {};
      sourceError = socketBody
        ? await socketBody.pipe({
            area: () => writer!.readArea(0),
            take: buf => take(buf)?.then(startSync),
          })
        : await new Promise<unknown>(resolve => {
            let done = false;
            let waiting: Promise<void> | undefined;
            const end = (error?: unknown) => {
              if (done) {
                return;
              }
              done = true;
              if (error !== undefined && !readable.destroyed) {
                readable.destroy(); // as an async iterator left early does
              }
              // the bytes taken so far are written before the write ends
              const pending = waiting;
              if (pending) {
                pending.then(
                  () => resolve(error),
                  e => resolve(error ?? e),
                );
              } else {
                resolve(error);
              }
            };
            onData = (chunk: Buffer) => {
              if (done) {
                return;
              }
              let buf = chunk;
              const over = position - offset + buf.length > maxBytes;
              if (over) {
                // keep the bytes up to the limit
                buf = buf.subarray(0, maxBytes - (position - offset));
              }
              let wait: Promise<void> | undefined;
              try {
                wait = take(buf);
              } catch (error) {
                end(error);
                return;
              }
              if (wait) {
                readable.pause();
                const pending = wait.then(() => {
                  if (waiting === pending) {
                    waiting = undefined;
                  }
                  if (!done) {
                    startSync();
                    readable.resume();
                  }
                });
                waiting = pending;
                pending.catch(error => end(error));
              }
              if (over) {
                end(ERRORS.ERR_SIZE_EXCEEDED);
              }
            };
            // the end of the body, an error, or a close before the end
            stopWatching = finished(readable, { writable: false }, error =>
              end(error ?? undefined),
            );
            readable.on('data', onData);
          });
      readable.off('data', onData);
      stopWatching();
      await syncing;
      // an fsync error fails the write; it is never retried (fsyncgate)
      await writer.sync();
      await writer.close();
    } catch (error) {
      await writer?.close().catch(() => {});
      throw ERRORS.FILE_WRITE_ERROR;
    }
    await this.opts.sessions.setDurableOffset(id, position, writeId, offset);
    this.hashes.set(id, {
      hash: state.hash,
      offset: position,
      writer: writeId,
    });
    if (sourceError) {
      throw sourceError;
    }
    return position;
  }

  /** The SHA-256 of the first `size` bytes (the whole upload when complete). */
  async digest(id: string, size: number): Promise<string> {
    const state = await this.hashState(id, size);
    return state.hash.copy().digest('hex');
  }

  override async remove(id: string): Promise<void> {
    this.filePath(id);
    this.hashes.delete(id);
    await super.remove(id);
  }

  /**
   * Drops the cached hash states of uploads not in `ids` (finished or
   * removed by another instance).
   */
  forgetAllBut(ids: Iterable<string>) {
    const keep = new Set(ids);
    for (const id of [...this.hashes.keys()]) {
      if (!keep.has(id)) {
        this.hashes.delete(id);
      }
    }
  }

  /** Removes an upload's file and row, ignoring what is already gone. */
  async discard(id: string): Promise<void> {
    this.hashes.delete(id);
    await fs.rm(this.filePath(id), { force: true });
    await this.opts.sessions.delete(id);
  }
}
