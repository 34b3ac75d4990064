import { Knex } from 'knex';

/** What the database says of a blob: its size and how many files use it. */
export type BlobRow = { sha256: string; size: number; refCount: number };

/**
 * The blob rows the store check compares the artifact store with. Reads
 * only: the `blobs` table is written by its owner store alone.
 *
 * @internal
 */
export interface BlobRows {
  /** The rows of these digests (those that have one). */
  find(sha256s: string[]): Promise<Map<string, BlobRow>>;
  /** Rows that files point at, in digest order, after `after`. */
  listReferenced(options: {
    after?: string;
    limit: number;
  }): Promise<BlobRow[]>;
}

function toRow(r: any): BlobRow {
  return {
    sha256: r.sha256,
    size: Number(r.size),
    refCount: Number(r.ref_count),
  };
}

/** {@link BlobRows} read from the hub's database. @internal */
export function createBlobRows(db: Knex): BlobRows {
  return {
    async find(sha256s) {
      const rows = sha256s.length
        ? await db('blobs')
            .whereIn('sha256', sha256s)
            .select('sha256', 'size', 'ref_count')
        : [];
      return new Map(rows.map(r => [r.sha256 as string, toRow(r)]));
    },
    async listReferenced({ after, limit }) {
      const query = db('blobs')
        .where('ref_count', '>', 0)
        .select('sha256', 'size', 'ref_count')
        .orderBy('sha256', 'asc')
        .limit(limit);
      if (after) {
        query.where('sha256', '>', after);
      }
      return (await query).map(toRow);
    },
  };
}
