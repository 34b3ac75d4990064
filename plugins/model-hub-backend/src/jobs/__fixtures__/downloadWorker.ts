/* eslint-disable no-restricted-syntax */
// A backend instance's download worker in a child process, for the crash
// and multi-instance tests: runs `huggingface-download` jobs from the
// database until none is left, printing its progress on stdout.
//
// argv: <knex config JSON> <hub url> <store path> <download dir> <worker id>
//       <lease ms> <checkpoint bytes> <concurrency> [<throttle MiB/s>]
//
// With a throttle, bodies are read no faster than that (the crash test
// must kill the process while a download is surely in progress).
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../../huggingface/HuggingFaceClient';
import { LocalArtifactStore } from '../../store/LocalArtifactStore';
import { createDownloadExecutor } from '../../huggingface/downloadExecutor';
import { JobQueue } from '../JobQueue';
import { JobWorker } from '../JobWorker';
import { PartialDownloadStore } from '../PartialDownloadStore';

const [
  knexConfig,
  hubUrl,
  storePath,
  downloadDir,
  workerId,
  leaseMs,
  checkpointBytes,
  concurrency,
  throttle,
] = process.argv.slice(2);

/** Passes chunks on no faster than `mibPerSecond`. */
async function* throttled(
  body: AsyncIterable<Uint8Array>,
  mibPerSecond: number,
) {
  const start = Date.now();
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    const due = start + (bytes / (mibPerSecond * 1024 * 1024)) * 1000;
    if (due > Date.now()) {
      await new Promise(r => setTimeout(r, due - Date.now()));
    }
    yield chunk;
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const logger: any = {
  info: () => {},
  debug: () => {},
  warn: (m: string) => print(`warn ${m}`),
  error: (m: string) => print(`error ${m}`),
  child: () => logger,
};

async function main() {
  const knex = Knex(JSON.parse(knexConfig));
  const store = await DatabaseModelHubStore.create({
    database: { getClient: async () => knex, migrations: { skip: true } },
  });
  const artifacts = await LocalArtifactStore.create({ path: storePath });
  const queue = new JobQueue(knex, workerId);
  const client = new HuggingFaceClient({
    endpoint: hubUrl,
    retry: { baseDelayMs: 50 },
  });
  const fetcher: typeof client = throttle
    ? Object.assign(Object.create(client), {
        streamFile: async (...a: Parameters<typeof client.streamFile>) => {
          const res = await client.streamFile(...a);
          return res.body
            ? { ...res, body: throttled(res.body, Number(throttle)) }
            : res;
        },
      })
    : client;
  const executor = createDownloadExecutor({
    fetcher,
    store,
    artifacts,
    partials: new PartialDownloadStore(knex),
    downloadDir,
    checkpointBytes: Number(checkpointBytes),
  });
  let lastPrinted = 0;
  const worker = new JobWorker({
    queue,
    logger,
    concurrency: Number(concurrency),
    leaseMs: Number(leaseMs),
    pollIntervalMs: 100,
    executors: {
      'huggingface-download': async ctx => {
        print(`claimed ${ctx.job.id} attempt ${ctx.job.attempts}`);
        const progress = ctx.progress;
        ctx.progress = p => {
          progress(p);
          const bytes = Number(p.bytes ?? 0);
          if (bytes - lastPrinted >= 16 * 1024 * 1024) {
            lastPrinted = bytes;
            print(`bytes ${bytes}`);
          }
        };
        await executor(ctx);
        print(`done ${ctx.job.id}`);
      },
    },
  });
  worker.start();
  // exit once nothing is queued or running
  for (;;) {
    await new Promise(r => setTimeout(r, 300));
    const open = await knex('jobs')
      .whereIn('state', ['queued', 'running'])
      .count({ n: '*' })
      .first();
    if (Number(open?.n ?? 0) === 0) {
      break;
    }
  }
  await worker.stop();
  await knex.destroy();
  print('idle');
}

main().catch(error => {
  print(`fatal ${error?.stack ?? error}`);
  process.exit(1);
});
