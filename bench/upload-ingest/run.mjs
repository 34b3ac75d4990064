#!/usr/bin/env node
/*
 * Benchmark: resumable (tus) upload ingest of a large file into the Model Hub
 * store vs `cp` + `sync` of the same file. See README.md. Writes results.md.
 */
/* eslint-disable no-console */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(join(root, 'plugins', 'model-hub-backend', 'package.json'));
const tus = require('tus-js-client');

const SIZES_MIB = (process.env.BENCH_SIZES_MIB ?? '2048').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = resolve(process.env.BENCH_WORK ?? join(root, 'bench', '.tmp', 'upload-ingest'));
mkdirSync(work, { recursive: true });

async function makeFile(path, size) {
  if (existsSync(path) && statSync(path).size === size && existsSync(`${path}.sha256`)) {
    return readFileSync(`${path}.sha256`, 'utf8');
  }
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let n = 0; n < size; ) {
    const chunk = randomBytes(Math.min(1 << 20, size - n));
    hash.update(chunk);
    n += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const digest = hash.digest('hex');
  writeFileSync(`${path}.sha256`, digest);
  return digest;
}

async function buildServer() {
  // bundle the TypeScript sources (packages stay external) so that the
  // server runs on plain node, without a transpiler in its memory
  const esbuild = require('esbuild');
  const outfile = join(work, 'server.cjs');
  await esbuild.build({
    entryPoints: [join(here, 'server.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    plugins: [
      {
        // npm packages stay external; the workspace's TypeScript is bundled
        name: 'externals',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, args =>
            args.path.startsWith('@internal/') ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  return outfile;
}

async function startServer() {
  const outfile = await buildServer();
  const child = spawn(
    process.execPath,
    [outfile],
    { cwd: join(root, 'plugins', 'model-hub-backend'), env: { ...process.env, BENCH_WORK: work }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolvePromise({ child, port: Number(m[1]) });
    });
    child.on('exit', code => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

function procStatus(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

function upload(base, path, size, target) {
  return new Promise((resolvePromise, reject) => {
    const u = new tus.Upload(createReadStream(path), {
      endpoint: `${base}/uploads`,
      uploadSize: size,
      metadata: { model: 'default/bench', version: 'v1', path: target },
      retryDelays: [0, 500, 1000],
      onSuccess: ({ lastResponse }) => resolvePromise(lastResponse.getHeader('X-Content-Sha256')),
      onError: reject,
    });
    u.start();
  });
}

async function removeAndGc(base, target) {
  await fetch(`${base}/models/default/bench/versions/v1/files/${target}`, { method: 'DELETE' });
  await new Promise(r => setTimeout(r, 20));
  await fetch(`${base}/admin/gc`, { method: 'POST' });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const MIB = 1024 * 1024;
const rows = [];
const { child, port } = await startServer();
const base = `http://127.0.0.1:${port}/api/model-hub`;
const pid = child.pid;
const rssIdle = procStatus(pid, 'VmRSS');
try {
  for (const sizeMiB of SIZES_MIB) {
    const size = sizeMiB * MIB;
    const src = join(work, `input-${sizeMiB}.bin`);
    console.log(`generating ${sizeMiB} MiB input`);
    const expected = await makeFile(src, size);
    const cpTimes = [];
    const tusTimes = [];
    for (let run = 0; run < RUNS; run++) {
      // baseline: cp + sync into the same filesystem
      execFileSync('sync');
      const dst = join(work, 'cp-copy.bin');
      let t = process.hrtime.bigint();
      execFileSync('cp', [src, dst]);
      execFileSync('sync');
      cpTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      rmSync(dst, { force: true });
      execFileSync('sync');

      // candidate: tus-js-client upload, until the file is a blob of the store
      const target = `weights/run-${sizeMiB}-${run}.bin`;
      t = process.hrtime.bigint();
      const digest = await upload(base, src, size, target);
      tusTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (digest !== expected) throw new Error(`sha256 mismatch: ${digest} != ${expected}`);
      await removeAndGc(base, target);
      execFileSync('sync');
      console.log(`${sizeMiB} MiB run ${run + 1}: cp+sync ${cpTimes.at(-1).toFixed(2)} s, tus ${tusTimes.at(-1).toFixed(2)} s, server VmHWM ${(procStatus(pid, 'VmHWM') / MIB).toFixed(0)} MiB`);
    }
    const ratios = cpTimes.map((c, i) => c / tusTimes[i]);
    rows.push({
      sizeMiB,
      cp: median(cpTimes),
      tus: median(tusTimes),
      ratioMin: Math.min(...ratios),
      ratioMed: median(ratios),
      ratioMax: Math.max(...ratios),
      hwm: procStatus(pid, 'VmHWM'),
    });
  }
} finally {
  child.kill('SIGTERM');
}

const cpu = cpus()[0]?.model ?? 'unknown';
const lines = [
  '# Upload ingest benchmark: results',
  '',
  `Generated by \`bench/upload-ingest/run.mjs\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, Node ${process.version}.`,
  `Runs per size: ${RUNS}, interleaved (cp + sync, then tus). Random (incompressible) input; warm page cache for the source file.`,
  '',
  '| file | cp + sync (median) | tus ingest (median) | throughput tus | ratio tus/cp (min / median / max) | server peak RSS (VmHWM) |',
  '| ---: | ---: | ---: | ---: | :---: | ---: |',
  ...rows.map(r => `| ${r.sizeMiB} MiB | ${r.cp.toFixed(2)} s | ${r.tus.toFixed(2)} s | ${(r.sizeMiB / r.tus).toFixed(0)} MiB/s | ${r.ratioMin.toFixed(2)} / ${r.ratioMed.toFixed(2)} / ${r.ratioMax.toFixed(2)} × | ${(r.hwm / MIB).toFixed(0)} MiB |`),
  '',
  `Server RSS when idle after start: ${(rssIdle / MIB).toFixed(0)} MiB. VmHWM is the peak RSS of the server process since it started, so each row includes every earlier upload.`,
  '',
  'Targets (issue 5, acceptance 4): ratio ≥ 0.5× of `cp` + `sync`; peak server memory ≤ 150 MiB regardless of size.',
  '',
];
writeFileSync(join(here, 'results.md'), lines.join('\n'));
console.log(lines.join('\n'));
