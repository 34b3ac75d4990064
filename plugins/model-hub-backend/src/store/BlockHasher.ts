import { createHash, Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** A digest to compute: a `node:crypto` algorithm, optionally over a prefix first. @internal */
export type HashSpec = { algorithm: 'sha256' | 'sha1'; prefix?: string };

/**
 * Hashes a stream of byte ranges, in the order given, with one or more
 * algorithms. `update` returns a promise when the bytes are still being
 * read (a {@link BackgroundHasher}): the caller must not change them until
 * it settles.
 *
 * @internal
 */
export interface BlockHasher {
  update(bytes: Uint8Array): Promise<void> | undefined;
  /** The hex digests, one per spec, of every byte given; ends the hasher. */
  digest(): Promise<string[]>;
  /** Frees the hasher without a digest (idempotent). */
  close(): Promise<void>;
}

/** Hashes on the calling thread, as the bytes are given. @internal */
export class InlineHasher implements BlockHasher {
  private readonly hashes: Hash[];

  constructor(specs: HashSpec[]) {
    this.hashes = specs.map(spec => {
      const h = createHash(spec.algorithm);
      if (spec.prefix) {
        h.update(spec.prefix);
      }
      return h;
    });
  }

  update(bytes: Uint8Array): undefined {
    for (const h of this.hashes) {
      h.update(bytes);
    }
    return undefined;
  }

  async digest(): Promise<string[]> {
    return this.hashes.map(h => h.digest('hex'));
  }

  async close(): Promise<void> {}
}

/**
 * The worker's whole program (plain JavaScript, evaluated, so that it
 * loads nothing of the backend's code whatever way the backend is built or
 * bundled): it hashes the ranges it is sent, in order, and acknowledges
 * each one.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = workerData.specs.map(s => {
  const h = createHash(s.algorithm);
  if (s.prefix) h.update(s.prefix);
  return h;
});
parentPort.on('message', m => {
  if (m.type === 'update') {
    const view = new Uint8Array(m.buffer, m.offset, m.length);
    for (const h of hashes) h.update(view);
    parentPort.postMessage({ type: 'updated', seq: m.seq });
  } else {
    parentPort.postMessage({ type: 'digest', digests: hashes.map(h => h.digest('hex')) });
  }
});
`;

/**
 * Hashes in a worker thread, so that the hash (SHA-256: about 0.7 CPU-s
 * per GiB) runs on another core while the calling thread receives and
 * writes the next bytes. Bytes in a `SharedArrayBuffer` (the page-aligned
 * blocks of a {@link SequentialFileWriter}) are read where they are; others
 * are copied once. The worker runs only a few lines of JavaScript (a few
 * MiB of memory); it ends with `digest` or `close`, and does not keep the
 * process alive.
 *
 * @internal
 */
export class BackgroundHasher implements BlockHasher {
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<
    number,
    { resolve(): void; reject(e: unknown): void }
  >();
  private digestWaiter:
    | { resolve(d: string[]): void; reject(e: unknown): void }
    | undefined;
  private error: unknown;
  private ended = false;

  constructor(specs: HashSpec[]) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { specs },
      // a hasher holds no JavaScript data of note
      resourceLimits: {
        maxOldGenerationSizeMb: 16,
        maxYoungGenerationSizeMb: 4,
      },
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    this.worker.on('message', m => {
      if (m.type === 'updated') {
        const p = this.pending.get(m.seq);
        this.pending.delete(m.seq);
        p?.resolve();
        if (!this.pending.size && !this.digestWaiter) {
          this.worker.unref();
        }
      } else if (m.type === 'digest') {
        const w = this.digestWaiter;
        this.digestWaiter = undefined;
        this.ended = true;
        void this.worker.terminate();
        w?.resolve(m.digests);
      }
    });
    this.worker.on('error', error => this.fail(error));
    this.worker.on('exit', code => {
      if (!this.ended) {
        this.fail(new Error(`The hashing worker exited with code ${code}`));
      }
    });
  }

  private fail(error: unknown) {
    this.error ??= error;
    this.ended = true;
    for (const p of this.pending.values()) {
      p.reject(this.error);
    }
    this.pending.clear();
    this.digestWaiter?.reject(this.error);
    this.digestWaiter = undefined;
  }

  private check() {
    if (this.error) {
      throw this.error;
    }
    if (this.ended) {
      throw new Error('The hasher has ended');
    }
  }

  update(bytes: Uint8Array): Promise<void> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    if (bytes.length === 0) {
      return Promise.resolve();
    }
    const seq = this.seq++;
    const done = new Promise<void>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
    });
    this.worker.ref();
    if (bytes.buffer instanceof SharedArrayBuffer) {
      this.worker.postMessage({
        type: 'update',
        seq,
        buffer: bytes.buffer,
        offset: bytes.byteOffset,
        length: bytes.length,
      });
    } else {
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      this.worker.postMessage(
        {
          type: 'update',
          seq,
          buffer: copy.buffer,
          offset: 0,
          length: copy.length,
        },
        [copy.buffer],
      );
    }
    return done;
  }

  digest(): Promise<string[]> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.digestWaiter) {
      return Promise.reject(new Error('A digest is already on its way'));
    }
    const result = new Promise<string[]>((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
    });
    this.worker.ref();
    this.worker.postMessage({ type: 'digest' });
    return result;
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.fail(new Error('The hasher was closed'));
    }
    await this.worker.terminate().catch(() => undefined);
  }
}

/** Files from this size on are hashed in a worker thread by default. */
export const BACKGROUND_HASH_MIN_BYTES = 32 * 1024 * 1024;

/**
 * A hasher for `size` bytes: in a worker thread from
 * {@link BACKGROUND_HASH_MIN_BYTES} on (where the hash costs more than a
 * thread's start), on the calling thread below.
 *
 * @internal
 */
export function createBlockHasher(
  specs: HashSpec[],
  size: number,
  minBackgroundBytes = BACKGROUND_HASH_MIN_BYTES,
): BlockHasher {
  return size >= minBackgroundBytes
    ? new BackgroundHasher(specs)
    : new InlineHasher(specs);
}
