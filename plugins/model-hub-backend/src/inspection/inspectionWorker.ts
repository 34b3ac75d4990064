import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { inspectFileInThread } from './inspectInThread';
import { ByteSource } from './source';
import { InspectionLimits } from './types';

/** Marks the `workerData` of an inspection worker. @internal */
export const INSPECTION_WORKER = 'model-hub-inspection-worker';

/**
 * The file this module is loaded from (a TypeScript source in development
 * and tests, a built `.cjs.js` module in `dist`): the entry of the workers.
 *
 * @internal
 */
export const inspectionWorkerPath = __filename;

/** Messages from the pool to a worker. @internal */
export type ToWorker =
  | {
      type: 'inspect';
      job: number;
      path: string;
      size: number;
      limits: InspectionLimits;
    }
  | { type: 'data'; req: number; data?: ArrayBuffer; error?: string };

/** Messages from a worker to the pool. @internal */
export type FromWorker =
  | { type: 'read'; job: number; req: number; start: number; length: number }
  | { type: 'result'; job: number; checks: unknown[] }
  | { type: 'error'; job: number; message: string };

function serve() {
  const port = parentPort!;
  const pending = new Map<
    number,
    { resolve(b: Buffer): void; reject(e: Error): void }
  >();
  let nextReq = 0;
  const post = (m: FromWorker) => port.postMessage(m);
  port.on('message', async (message: ToWorker) => {
    if (message.type === 'data') {
      const p = pending.get(message.req);
      pending.delete(message.req);
      if (message.error !== undefined || !message.data) {
        p?.reject(new Error(message.error ?? 'read failed'));
      } else {
        p?.resolve(Buffer.from(message.data));
      }
      return;
    }
    const { job, path, size, limits } = message;
    // the bytes stay where they are: each read asks the pool's thread
    const source: ByteSource = {
      size,
      read: (start, length) =>
        new Promise((resolve, reject) => {
          const req = nextReq++;
          pending.set(req, { resolve, reject });
          post({ type: 'read', job, req, start, length });
        }),
    };
    try {
      const checks = await inspectFileInThread(path, source, limits);
      post({ type: 'result', job, checks });
    } catch (error) {
      post({ type: 'error', job, message: String(error) });
    }
  });
}

if (!isMainThread && workerData?.[INSPECTION_WORKER]) {
  serve();
}
