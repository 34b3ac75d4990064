/*
 * One download through downloadBlob into BENCH_AB_DIR from the mock Hub at
 * BENCH_AB_URL; prints one JSON line (seconds, CPU seconds of the process).
 * Run from two checkouts (old and new code) by ab.mjs, interleaved.
 */
/* eslint-disable no-console */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../../../plugins/model-hub-backend/src/huggingface/HuggingFaceClient';
import { downloadBlob } from '../../../plugins/model-hub-backend/src/jobs/downloadBlob';
import { PartialDownloadStore } from '../../../plugins/model-hub-backend/src/jobs/PartialDownloadStore';
import { LocalArtifactStore } from '../../../plugins/model-hub-backend/src/store/LocalArtifactStore';

const REPO = 'acme/big-model';

/** CPU seconds per thread of this process (utime + stime; 100 ticks/s). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[`${tid} ${name}`] = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // the thread ended
    }
  }
  return out;
}
const FILE = 'model.safetensors';

async function main() {
  const url = process.env.BENCH_AB_URL!;
  const runDir = process.env.BENCH_AB_DIR!;
  const client = new HuggingFaceClient({ endpoint: url });
  const files = await client.listFiles(REPO, 'main');
  const f = files.find(x => x.path === FILE)!;
  const file = {
    path: f.path,
    size: f.size,
    oid: f.oid,
    lfsSha256: f.lfs!.sha256,
  };
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(runDir, 'db.sqlite') },
    useNullAsDefault: true,
  });
  await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts = await LocalArtifactStore.create({
    path: join(runDir, 'store'),
  });
  const partials = new PartialDownloadStore(knex);
  const before = threadCpu();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const blob = await downloadBlob({
    file,
    url: client.fileUrl(REPO, 'main', FILE),
    fetchRange: (headers, signal) =>
      client.streamFile(REPO, 'main', FILE, { headers, signal }),
    artifacts,
    partials,
    dir: join(runDir, 'downloads'),
    signal: new AbortController().signal,
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const after = threadCpu();
  const threads: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d >= 0.05) threads[k] = Math.round(d * 100) / 100;
  }
  if (blob.sha256 !== file.lfsSha256) {
    throw new Error('digest mismatch');
  }
  await knex.destroy();
  rmSync(runDir, { recursive: true, force: true });
  console.log(
    JSON.stringify({
      secs,
      cpu: (cpu.user + cpu.system) / 1e6,
      user: cpu.user / 1e6,
      sys: cpu.system / 1e6,
      threads,
    }),
  );
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
