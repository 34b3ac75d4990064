import { Knex } from 'knex';
import { Upload } from '@tus/server';

/** What binds an upload to a model, a version and a path. @internal */
export type UploadBinding = {
  modelId: string;
  modelRef: string;
  versionId: string;
  path: string;
  createdBy: string;
};

/** A write of an upload, as its session records it. @internal */
export type SessionWrite = { writer: string; from: number; to: number };

/** The most writes a session remembers. */
const MAX_WRITES = 64;

/** A stored upload session. @internal */
export type UploadSession = UploadBinding & {
  id: string;
  size?: number;
  durableOffset: number;
  /**
   * The write (a random id per PATCH, on whichever instance) that recorded
   * `durableOffset`; an instance uses its cached hash state of the upload
   * only while this still names the write that left it.
   */
  writer?: string;
  /**
   * The latest writes that recorded a durable offset, oldest first: from
   * which offset each wrote and up to which it is durable.
   */
  writes: SessionWrite[];
  upload: Upload;
  createdAt: Date;
};

type Row = {
  id: string;
  model_id: string;
  version_id: string;
  model_ref: string;
  path: string;
  size: number | string | null;
  upload: string;
  created_by: string;
  created_at: Date | string | number;
};

/**
 * The `upload_sessions` table, also the config store of the tus file store
 * (a `KvStore<Upload>`): the upload's size, metadata and creation date, plus
 * its binding to a model, version and path and the offset known durable.
 *
 * Bindings are registered by the creation hook before the file store
 * creates the upload, so that `set` can insert the full row.
 *
 * @internal
 */
export class UploadSessionsStore {
  private readonly pending = new Map<string, UploadBinding>();

  constructor(private readonly db: Knex) {}

  /** Registers the binding of an upload that is about to be created. */
  bind(id: string, binding: UploadBinding) {
    this.pending.set(id, binding);
  }

  unbind(id: string) {
    this.pending.delete(id);
  }

  private toSession(row: Row): UploadSession {
    const json = JSON.parse(row.upload);
    const durableOffset = Number(json.durableOffset ?? 0);
    const upload = new Upload({
      id: row.id,
      size: row.size === null ? undefined : Number(row.size),
      offset: 0,
      metadata: json.metadata,
      creation_date: json.creation_date,
    });
    return {
      id: row.id,
      modelId: row.model_id,
      modelRef: row.model_ref,
      versionId: row.version_id,
      path: row.path,
      createdBy: row.created_by,
      size: upload.size,
      durableOffset,
      writer: typeof json.writer === 'string' ? json.writer : undefined,
      writes: Array.isArray(json.writes) ? json.writes : [],
      upload,
      createdAt: new Date(
        typeof row.created_at === 'string' && /^\d+$/.test(row.created_at)
          ? Number(row.created_at)
          : row.created_at,
      ),
    };
  }

  async getSession(id: string): Promise<UploadSession | undefined> {
    const row = await this.db<Row>('upload_sessions').where({ id }).first();
    return row ? this.toSession(row) : undefined;
  }

  async countActive(createdBy: string): Promise<number> {
    const [row] = await this.db('upload_sessions')
      .where({ created_by: createdBy })
      .count({ count: '*' });
    return Number(row?.count ?? 0);
  }

  /**
   * Records the offset known durable and the write that made it so (which
   * started at `from`).
   */
  async setDurableOffset(
    id: string,
    offset: number,
    writer?: string,
    from?: number,
  ) {
    const row = await this.db<Row>('upload_sessions').where({ id }).first();
    if (row) {
      const json = JSON.parse(row.upload);
      json.durableOffset = offset;
      json.writer = writer;
      if (writer !== undefined && from !== undefined) {
        const writes: SessionWrite[] = Array.isArray(json.writes)
          ? json.writes
          : [];
        const last = writes[writes.length - 1];
        if (last?.writer === writer) {
          last.to = offset;
        } else {
          writes.push({ writer, from, to: offset });
        }
        json.writes = writes.slice(-MAX_WRITES);
      }
      await this.db('upload_sessions')
        .where({ id })
        .update({ upload: JSON.stringify(json) });
    }
  }

  // KvStore<Upload>

  async get(id: string): Promise<Upload | undefined> {
    return (await this.getSession(id))?.upload;
  }

  async set(id: string, upload: Upload): Promise<void> {
    const existing = await this.db<Row>('upload_sessions')
      .where({ id })
      .first();
    const previous = existing ? JSON.parse(existing.upload) : {};
    const json = {
      metadata: upload.metadata,
      creation_date: upload.creation_date,
      durableOffset: previous.durableOffset ?? 0,
      writer: previous.writer,
      writes: previous.writes,
    };
    if (existing) {
      await this.db('upload_sessions')
        .where({ id })
        .update({ size: upload.size ?? null, upload: JSON.stringify(json) });
      return;
    }
    const binding = this.pending.get(id);
    if (!binding) {
      throw new Error(`Upload ${id} has no binding`);
    }
    this.pending.delete(id);
    await this.db('upload_sessions').insert({
      id,
      model_id: binding.modelId,
      version_id: binding.versionId,
      model_ref: binding.modelRef,
      path: binding.path,
      size: upload.size ?? null,
      upload: JSON.stringify(json),
      created_by: binding.createdBy,
      created_at: new Date(),
    });
  }

  async delete(id: string): Promise<void> {
    await this.db('upload_sessions').where({ id }).delete();
  }

  async list(): Promise<string[]> {
    const rows = await this.db('upload_sessions').select('id');
    return rows.map((r: { id: string }) => r.id);
  }

  /** Ids of sessions created before `before`. */
  async listExpired(before: Date): Promise<string[]> {
    const rows = await this.db('upload_sessions')
      .where('created_at', '<', before)
      .select('id');
    return rows.map((r: { id: string }) => r.id);
  }
}
