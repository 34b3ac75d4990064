import { Worker } from 'node:worker_threads';
import {
  FromWorker,
  INSPECTION_WORKER,
  inspectionWorkerPath,
  ToWorker,
} from './inspectionWorker';
import { failedInspection } from './inspectInThread';
import type { ByteSource } from './source';
import { InspectionCheck, InspectionLimits } from './types';

/**
 * Loads the worker module: a built module directly; a TypeScript source
 * (tests, `backstage-cli package start`) through the Backstage CLI's
 * TypeScript transform, which a worker thread does not inherit.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.transform) require(workerData.transform);
require(workerData.entry);
`;

let transform: { path?: string } | undefined;

/** The module the workers load: the inspection worker's own file. */
let workerEntry = inspectionWorkerPath;

/**
 * Points the workers at a separately built inspection worker module. The
 * worker module is found by its own `__filename`, which is right for the
 * package as built (one file per module) and for the TypeScript sources;
 * a process bundled into one file (esbuild, webpack) gets the whole
 * bundle as that name, so each worker would load, parse and keep the whole
 * backend (about 60 MiB more per worker). Such a bundler builds
 * `inspection/inspectionWorker` as an entry of its own and passes its
 * path here, before the first inspection.
 *
 * @internal
 */
export function setInspectionWorkerEntry(path: string) {
  workerEntry = path;
}

function transformPath(entry: string): string | undefined {
  if (!transform) {
    transform = { path: findTransform(entry) };
  }
  return transform.path;
}

function findTransform(entry: string): string | undefined {
  if (!/\.[cm]?ts$/.test(entry)) {
    return undefined;
  }
  for (const id of [
    '@backstage/cli-node/config/nodeTransform.cjs',
    '@backstage/cli/config/nodeTransform.cjs',
  ]) {
    try {
      return require.resolve(id);
    } catch {
      // try the next
    }
  }
  throw new Error(
    'Inspection workers run from TypeScript sources need @backstage/cli',
  );
}

type Job = {
  id: number;
  path: string;
  source: ByteSource;
  limits: InspectionLimits;
  resolve(checks: InspectionCheck[]): void;
};

type Slot = {
  worker: Worker;
  job?: Job;
  started: number;
  elu?: ReturnType<Worker['performance']['eventLoopUtilization']>;
  timer?: NodeJS.Timeout;
  idle?: NodeJS.Timeout;
  memoryMiB: number;
  /** Bytes handed to the worker (it ends after a file once past a limit). */
  sentBytes: number;
};

const POLL_MS = 25;
const YOUNG_GENERATION_MIB = 8;
/**
 * A worker that was handed this many bytes ends after its file. The
 * buffers it is sent are freed only by its own garbage collector, which a
 * parser that allocates little JavaScript rarely runs: each 16 MiB pickle
 * scan of a large `.bin` stayed resident (about +20 MiB of the process's
 * RSS per file inspected). A fresh worker costs a few MiB and tens of ms.
 */
const RECYCLE_AFTER_BYTES = 8 * 1024 * 1024;
/** Smaller reads are copied (they may share memory with other buffers). */
const OWN_BUFFER_MIN_BYTES = 64 * 1024;
/** Larger reads are made in pieces of this size, into one buffer. */
const READ_PIECE_BYTES = 1024 * 1024;
/** An idle worker is ended after this long, so an idle backend holds no isolate. */
const IDLE_MS = 30_000;

/**
 * A small pool of worker threads that inspect files off the event loop.
 * Each worker inspects one file at a time; its reads are served by the
 * pool's thread from the file's {@link ByteSource}. A file whose
 * inspection uses more CPU time (the worker's busy time) or wall time than
 * its limits allow, or more memory than the worker's heap, has its worker
 * terminated and gets a failed check with the reason; the next file gets a
 * fresh worker. Idle workers do not keep the process alive, and end after
 * 30 s without work.
 *
 * @internal
 */
export class InspectionPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private size: number, private readonly idleMs = IDLE_MS) {
    if (!Number.isInteger(size) || size < 1) {
      throw new Error(
        `The inspection pool needs 1 or more workers, got ${size}`,
      );
    }
  }

  /** Changes the number of workers (extra busy ones finish first). */
  resize(size: number) {
    if (Number.isInteger(size) && size >= 1) {
      this.size = size;
    }
  }

  /** Workers running now (for tests and metrics). */
  get workerCount() {
    return this.slots.size;
  }

  inspect(
    path: string,
    source: ByteSource,
    limits: InspectionLimits,
  ): Promise<InspectionCheck[]> {
    if (this.closed) {
      return Promise.reject(new Error('The inspection pool is closed'));
    }
    return new Promise(resolve => {
      this.queue.push({ id: this.nextId++, path, source, limits, resolve });
      this.dispatch();
    });
  }

  /** Terminates all workers; queued and running inspections fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.resolve([failedInspection(job.path, 'the backend shut down')]);
    }
    await Promise.all(
      [...this.slots].map(slot =>
        this.finish(slot, [
          failedInspection(slot.job?.path ?? '', 'the backend shut down'),
        ]),
      ),
    );
  }

  private dispatch() {
    while (this.queue.length) {
      let slot = [...this.slots].find(s => !s.job);
      if (!slot) {
        if (this.slots.size >= this.size) {
          return;
        }
        slot = this.spawn(this.queue[0].limits.workerMemoryMiB);
      }
      this.start(slot, this.queue.shift()!);
    }
  }

  private spawn(memoryMiB: number): Slot {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: {
        [INSPECTION_WORKER]: true,
        entry: workerEntry,
        transform: transformPath(workerEntry),
      },
      resourceLimits: {
        maxOldGenerationSizeMb: memoryMiB,
        // the bytes read are ArrayBuffers outside the heap; a larger young
        // generation only let garbage pile up in the worker's resident
        // memory (a 64 MiB one grew each worker by tens of MiB)
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MIB,
      },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, started: 0, memoryMiB, sentBytes: 0 };
    this.slots.add(slot);
    worker.unref();
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    worker.on('error', error => {
      const reason =
        (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `the inspection ran out of memory (limit ${slot.memoryMiB} MiB)`
          : `the inspection worker failed: ${error.message}`;
      void this.finish(
        slot,
        slot.job ? [failedInspection(slot.job.path, reason)] : [],
      );
    });
    worker.on('exit', code => {
      if (this.slots.has(slot)) {
        void this.finish(
          slot,
          slot.job
            ? [
                failedInspection(
                  slot.job.path,
                  `the inspection worker exited with code ${code}`,
                ),
              ]
            : [],
        );
      }
    });
    return slot;
  }

  private start(slot: Slot, job: Job) {
    clearTimeout(slot.idle);
    slot.job = job;
    slot.started = Date.now();
    slot.worker.ref();
    // the worker's busy time: CPU time of its thread, not waiting for reads
    slot.elu = slot.worker.performance.eventLoopUtilization();
    slot.timer = setInterval(() => this.watch(slot), POLL_MS);
    const message: ToWorker = {
      type: 'inspect',
      job: job.id,
      path: job.path,
      size: job.source.size,
      limits: job.limits,
    };
    slot.worker.postMessage(message);
  }

  private watch(slot: Slot) {
    const job = slot.job;
    if (!job || !slot.elu) {
      return;
    }
    const busy = slot.worker.performance.eventLoopUtilization(slot.elu).active;
    const wall = Date.now() - slot.started;
    let reason: string | undefined;
    if (busy > job.limits.cpuTimeLimitMs) {
      reason = `the inspection used more than its CPU time limit of ${job.limits.cpuTimeLimitMs} ms`;
    } else if (wall > job.limits.wallTimeLimitMs) {
      reason = `the inspection took longer than its time limit of ${job.limits.wallTimeLimitMs} ms`;
    }
    if (reason) {
      void this.finish(slot, [failedInspection(job.path, reason)]);
    }
  }

  private async onMessage(slot: Slot, message: FromWorker) {
    const job = slot.job;
    if (!job || message.job !== job.id) {
      return;
    }
    if (message.type === 'read') {
      let reply: ToWorker;
      try {
        const data = await readForWorker(
          job.source,
          message.start,
          message.length,
        );
        reply = { type: 'data', req: message.req, data };
        slot.sentBytes += data.byteLength;
      } catch (error) {
        reply = { type: 'data', req: message.req, error: String(error) };
      }
      if (slot.job === job) {
        const transfer = reply.data ? [reply.data] : [];
        slot.worker.postMessage(reply, transfer);
      }
      return;
    }
    if (message.type === 'result') {
      this.release(slot, message.checks as InspectionCheck[]);
    } else {
      this.release(slot, [failedInspection(job.path, message.message)]);
    }
  }

  /** The job is done and the worker stays for the next one. */
  private release(slot: Slot, checks: InspectionCheck[]) {
    const job = slot.job;
    clearInterval(slot.timer);
    slot.job = undefined;
    slot.elu = undefined;
    if (this.slots.size > this.size || slot.sentBytes >= RECYCLE_AFTER_BYTES) {
      void this.finish(slot, []);
    } else {
      slot.worker.unref();
      slot.idle = setTimeout(() => {
        if (!slot.job) {
          void this.finish(slot, []);
        }
      }, this.idleMs);
      slot.idle.unref();
    }
    job?.resolve(checks);
    this.dispatch();
  }

  /** The worker is terminated; its job (if any) gets `checks`. */
  private async finish(slot: Slot, checks: InspectionCheck[]) {
    if (!this.slots.delete(slot)) {
      return;
    }
    clearInterval(slot.timer);
    clearTimeout(slot.idle);
    const job = slot.job;
    slot.job = undefined;
    job?.resolve(checks);
    this.dispatch();
    await slot.worker.terminate().catch(() => undefined);
  }
}

/**
 * The bytes as an ArrayBuffer of their own, to transfer (not clone) to a
 * worker: the read's own memory when it owns all of it, else a copy (a
 * view of a larger buffer, such as Node's shared pool, must not be
 * detached).
 */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength &&
    bytes.byteLength >= OWN_BUFFER_MIN_BYTES
  ) {
    return buffer;
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/**
 * A worker's read, as an ArrayBuffer to transfer. A large read (a pickle
 * scan asks for 16 MiB) is made in 1 MiB pieces copied into the buffer
 * sent: a source that collects a stream (a blob of the store) would
 * otherwise hold its chunks and their concatenation at once, twice the
 * read, on top of the server's other memory.
 */
async function readForWorker(
  source: ByteSource,
  start: number,
  length: number,
): Promise<ArrayBuffer> {
  const wanted = Math.max(0, Math.min(length, source.size - start));
  if (wanted <= READ_PIECE_BYTES) {
    return ownBuffer(await source.read(start, length));
  }
  const out = new Uint8Array(wanted);
  let done = 0;
  while (done < wanted) {
    const piece = await source.read(
      start + done,
      Math.min(READ_PIECE_BYTES, wanted - done),
    );
    if (!piece.length) {
      break; // the source ends early: the worker sees a short read
    }
    out.set(piece, done);
    done += piece.length;
  }
  return done === wanted ? out.buffer : out.slice(0, done).buffer;
}

let shared: InspectionPool | undefined;

/**
 * The pool the inspections of this process share (created on first use;
 * `workers` from `modelHub.inspection.workers`).
 *
 * @internal
 */
export function sharedInspectionPool(workers: number): InspectionPool {
  if (!shared) {
    shared = new InspectionPool(workers);
  } else {
    shared.resize(workers);
  }
  return shared;
}
