import { promises as fs } from 'node:fs';
import type { WriteMode } from '../store/SequentialFileWriter';
import type { FileResponse } from './types';

/** Parallel ranged downloads of large files. @internal */
export type ParallelDownloadOptions = {
  /** Connections per file (1: one stream). */
  connections: number;
  /** Files of at least this many bytes are fetched in parallel ranges. */
  minBytes: number;
  /** Bytes per ranged request (default 32 MiB, a multiple of 4 MiB). */
  pieceBytes?: number;
};

/** The upstream answered a range with the whole file: use one stream. @internal */
export class RangesUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RangesUnsupportedError';
  }
}

/** The resume state, next to the partial file. @internal */
export type PieceState = {
  size: number;
  pieceBytes: number;
  sha256: string;
  /** Bytes of each piece written and fsynced, from the piece's start. */
  durable: number[];
};

/** The path of a partial file's piece state. @internal */
export function pieceStatePath(tempPath: string) {
  return `${tempPath}.pieces`;
}

/** The durable bytes per piece of a resume state that fits, else undefined. @internal */
export async function loadState(
  path: string,
  expected: Omit<PieceState, 'durable'>,
  count: number,
): Promise<number[] | undefined> {
  try {
    const state = JSON.parse(await fs.readFile(path, 'utf8')) as PieceState;
    if (
      state.size === expected.size &&
      state.pieceBytes === expected.pieceBytes &&
      state.sha256 === expected.sha256 &&
      Array.isArray(state.durable) &&
      state.durable.length === count &&
      state.durable.every(n => Number.isSafeInteger(n) && n >= 0)
    ) {
      return state.durable;
    }
  } catch {
    // missing or torn by a crash: start again
  }
  return undefined;
}

/** Received bytes of one piece, in one buffer (or on disk only). @internal */
export type Segment = {
  piece: number;
  offset: number;
  length: number;
  /** The bytes in memory; undefined once released or evicted (on disk). */
  buf?: Buffer;
  written: boolean;
  /** Handed to the hasher (no longer to be evicted). */
  posted: boolean;
  hashed: boolean;
};

/** What a download did with its memory, for logs and benchmarks. @internal */
export type PieceDownloadStats = {
  /** Whether aligned writes went past the page cache. */
  directIo: boolean;
  /** Bytes hashed from memory as received. */
  hashedFromMemory: number;
  /** Bytes read back from the file to hash (kept by a resume, or evicted). */
  hashedFromDisk: number;
  /** Buffers (of `bufferBytes`) held at most at once. */
  peakBuffers: number;
  bufferBytes: number;
};

/** What `downloadPieces` takes. @internal */
export type PieceDownloadOptions = {
  size: number;
  /** The expected SHA-256 (the resume state is bound to it). */
  sha256: string;
  path: string;
  tempPath: string;
  fetchRange: (
    headers: Record<string, string>,
    signal: AbortSignal,
  ) => Promise<FileResponse>;
  connections: number;
  pieceBytes?: number;
  signal: AbortSignal;
  checkpointBytes?: number;
  /** How the file is written (default `auto`: measured per filesystem). */
  writeMode?: WriteMode;
  /** Memory for received bytes (default 128 MiB; at least 2 buffers per connection). */
  memoryBytes?: number;
  onBytes?: (bytes: number) => void;
  log?: (message: string) => Promise<void> | void;
};
