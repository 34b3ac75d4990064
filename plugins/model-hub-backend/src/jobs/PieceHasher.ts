import { createHash, Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * A SHA-256 fed with views of memory, in order. `update` resolves once the
 * view has been hashed (its memory may then be reused).
 *
 * @internal
 */
export interface PieceHasher {
  update(view: Buffer): Promise<void>;
  digest(): Promise<string>;
  close(): Promise<void>;
}

/** Hashes on the calling thread. */
class InlineHasher implements PieceHasher {
  private readonly hash: Hash = createHash('sha256');
  async update(view: Buffer) {
    this.hash.update(view);
  }
  async digest() {
    return this.hash.digest('hex');
  }
  async close() {}
}

/**
 * The worker's whole program (plain JavaScript, evaluated, so that the
 * bundled backend needs no separate file). It hashes views of the shared
 * memory it was given and answers each with its id.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const memory = Buffer.from(workerData.memory);
const hash = createHash('sha256');
parentPort.on('message', m => {
  if (m.digest) {
    parentPort.postMessage({ id: m.id, digest: hash.digest('hex') });
    return;
  }
  hash.update(memory.subarray(m.offset, m.offset + m.length));
  parentPort.postMessage({ id: m.id });
});
`;

/** Hashes in a worker thread that reads the views where they are. */
class SharedMemoryHasher implements PieceHasher {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (digest?: string) => void; reject: (error: unknown) => void }
  >();
  private nextId = 0;
  private failure: unknown;

  constructor(private readonly memory: SharedArrayBuffer) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { memory },
    });
    this.worker.on('message', (m: { id: number; digest?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m.digest);
    });
    const fail = (error: unknown) => {
      this.failure ??= error;
      for (const p of this.pending.values()) {
        p.reject(this.failure);
      }
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', code =>
      fail(new Error(`The hashing thread exited with code ${code}`)),
    );
  }

  private send(message: object): Promise<string | undefined> {
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  async update(view: Buffer) {
    if (view.buffer !== this.memory) {
      throw new TypeError('The view is not of the shared memory');
    }
    await this.send({ offset: view.byteOffset, length: view.length });
  }

  async digest() {
    return (await this.send({ digest: true }))!;
  }

  async close() {
    this.failure ??= new Error('The hasher is closed');
    await this.worker.terminate();
  }
}

/**
 * A hasher for views of `memory`: in a worker thread where the memory is
 * shared (the hash then runs beside the thread that receives the bytes,
 * on another core), else on the calling thread.
 *
 * @internal
 */
export function createPieceHasher(
  memory: ArrayBufferLike | undefined,
): PieceHasher {
  if (
    typeof SharedArrayBuffer !== 'undefined' &&
    memory instanceof SharedArrayBuffer
  ) {
    try {
      return new SharedMemoryHasher(memory);
    } catch {
      // no worker threads: on this thread
    }
  }
  return new InlineHasher();
}
