import { createHash } from 'node:crypto';
import { ArtifactStore } from '../store/ArtifactStore';
import { BlobRow, BlobRows } from './blobRows';

/** A blob the check found wrong. @internal */
export type CorruptBlob = {
  sha256: string;
  /** The size the database records (or what was read, without a row). */
  size: number;
  /** content: the bytes hash to another digest; size: not the size the database records; unreadable: the read failed. */
  reason: 'content' | 'size' | 'unreadable';
  actualSha256?: string;
  actualSize?: number;
  error?: string;
};

/** A list of the check: how many, and the first `limit` of them. @internal */
export type CheckList<T> = { count: number; blobs: T[] };

/** What `POST /admin/store-check` answers. @internal */
export type StoreCheckReport = {
  /** Blobs of the artifact store read and re-hashed. */
  checked: number;
  /** Their bytes. */
  bytes: number;
  /** Blob rows that files point at. */
  referenced: number;
  /** Referenced by files, not in the artifact store. */
  missing: CheckList<{ sha256: string; size: number }>;
  /** Their bytes do not hash to their name, or not to the recorded size. */
  corrupt: CheckList<CorruptBlob>;
  /** In the artifact store, but no file points at them (yet: an upload in progress may not be committed). */
  unreferenced: CheckList<{ sha256: string; size: number; modifiedAt: string }>;
  /** Each list holds at most this many. */
  limit: number;
  startedAt: string;
  durationMs: number;
};

const BATCH = 200;

function push<T>(list: CheckList<T>, item: T, limit: number) {
  list.count += 1;
  if (list.blobs.length < limit) {
    list.blobs.push(item);
  }
}

/** Reads a blob through the store's read API and hashes it. */
async function hashBlob(
  artifacts: ArtifactStore,
  sha256: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number }> {
  const stream = await artifacts.get(sha256);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } finally {
    stream.destroy();
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Compares the artifact store with the blob rows of the database: every
 * blob of the store is read through the store's read API (streamed, one at
 * a time: memory stays flat whatever the sizes) and re-hashed; a blob whose
 * bytes do not hash to its name, or whose size is not the recorded one, is
 * corrupt; one no file points at is unreferenced; a blob row files point at
 * whose bytes are not in the store is missing. Changes nothing. Lists are
 * cut at `limit` (their counts are not).
 *
 * @internal
 */
export async function checkStore(options: {
  artifacts: ArtifactStore;
  rows: BlobRows;
  limit: number;
  signal?: AbortSignal;
}): Promise<StoreCheckReport> {
  const { artifacts, rows, limit, signal } = options;
  const started = Date.now();
  const report: StoreCheckReport = {
    checked: 0,
    bytes: 0,
    referenced: 0,
    missing: { count: 0, blobs: [] },
    corrupt: { count: 0, blobs: [] },
    unreferenced: { count: 0, blobs: [] },
    limit,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
  };

  const checkBatch = async (
    batch: { sha256: string; size: number; modifiedAt: Date }[],
  ) => {
    const known = await rows.find(batch.map(b => b.sha256));
    for (const blob of batch) {
      signal?.throwIfAborted();
      const row: BlobRow | undefined = known.get(blob.sha256);
      let actual: { sha256: string; size: number };
      try {
        actual = await hashBlob(artifacts, blob.sha256, signal);
      } catch (error) {
        signal?.throwIfAborted();
        if (!(await artifacts.stat(blob.sha256))) {
          // deleted since it was listed (garbage collection): the second
          // pass reports it if files still point at it
          continue;
        }
        push(
          report.corrupt,
          {
            sha256: blob.sha256,
            size: row?.size ?? blob.size,
            reason: 'unreadable',
            error: (error as Error).message,
          },
          limit,
        );
        continue;
      }
      report.checked += 1;
      report.bytes += actual.size;
      if (actual.sha256 !== blob.sha256) {
        push(
          report.corrupt,
          {
            sha256: blob.sha256,
            size: row?.size ?? actual.size,
            reason: 'content',
            actualSha256: actual.sha256,
            actualSize: actual.size,
          },
          limit,
        );
      } else if (row && row.size !== actual.size) {
        push(
          report.corrupt,
          {
            sha256: blob.sha256,
            size: row.size,
            reason: 'size',
            actualSize: actual.size,
          },
          limit,
        );
      }
      if (!row || row.refCount <= 0) {
        push(
          report.unreferenced,
          {
            sha256: blob.sha256,
            size: actual.size,
            modifiedAt: blob.modifiedAt.toISOString(),
          },
          limit,
        );
      }
    }
  };

  // 1. every blob of the store: re-hashed, and looked up in the database
  let batch: { sha256: string; size: number; modifiedAt: Date }[] = [];
  for await (const info of artifacts.list()) {
    signal?.throwIfAborted();
    batch.push(info);
    if (batch.length >= BATCH) {
      await checkBatch(batch);
      batch = [];
    }
  }
  await checkBatch(batch);

  // 2. every blob files point at: in the store?
  let after: string | undefined;
  for (;;) {
    const page = await rows.listReferenced({ after, limit: 500 });
    for (const row of page) {
      signal?.throwIfAborted();
      report.referenced += 1;
      if (!(await artifacts.stat(row.sha256))) {
        push(report.missing, { sha256: row.sha256, size: row.size }, limit);
      }
    }
    if (page.length < 500) {
      break;
    }
    after = page[page.length - 1].sha256;
  }

  report.durationMs = Date.now() - started;
  return report;
}
