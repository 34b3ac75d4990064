/*
 * One download through downloadBlob into BENCH_AB_DIR from the mock Hub at
 * BENCH_AB_URL; prints one JSON line (seconds, CPU seconds of the process).
 * Run from two checkouts (old and new code) by ab.mjs, interleaved.
 */
/* eslint-disable no-console */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpuSecondsOf, openDownload, startClock } from '../lib/download';

/** CPU seconds per thread of this process, by `<tid> <name>`. */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const secs = cpuSecondsOf(`/proc/self/task/${tid}/stat`);
      if (!Number.isNaN(secs)) {
        out[`${tid} ${name}`] = secs;
      }
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function main() {
  const url = process.env.BENCH_AB_URL!;
  const runDir = process.env.BENCH_AB_DIR!;
  rmSync(runDir, { recursive: true, force: true });
  const stack = await openDownload(url, runDir);
  const before = threadCpu();
  const clock = startClock();
  const blob = await stack.download();
  const { secs, cpuSecs, user, sys } = clock.stop();
  const after = threadCpu();
  const threads: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d >= 0.05) threads[k] = Math.round(d * 100) / 100;
  }
  if (blob.sha256 !== stack.file.lfsSha256) {
    throw new Error('digest mismatch');
  }
  await stack.knex.destroy();
  rmSync(runDir, { recursive: true, force: true });
  console.log(JSON.stringify({ secs, cpu: cpuSecs, user, sys, threads }));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
