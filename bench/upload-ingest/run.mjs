#!/usr/bin/env node
/*
 * Benchmark: resumable (tus) upload ingest of a large file into the Model Hub
 * store vs `cp` + `sync` of the same file. See README.md. Writes results.md.
 */
/* eslint-disable no-console */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(
  join(root, 'plugins', 'model-hub-backend', 'package.json'),
);
const tus = require('tus-js-client');

const SIZES_MIB = (process.env.BENCH_SIZES_MIB ?? '2048')
  .split(',')
  .map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = resolve(
  process.env.BENCH_WORK ?? join(root, 'bench', '.tmp', 'upload-ingest'),
);
mkdirSync(work, { recursive: true });

async function makeFile(path, size) {
  if (
    existsSync(path) &&
    statSync(path).size === size &&
    existsSync(`${path}.sha256`)
  ) {
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
  // inside the repository (node_modules resolve from there), whatever
  // BENCH_WORK is (e.g. a loop-mounted image)
  const outfile = join(root, 'bench', '.tmp', 'upload-ingest-server.cjs');
  mkdirSync(dirname(outfile), { recursive: true });
  // the inspection worker is an entry of its own, as in the built package
  // (one file per module): the workers load only it, not the whole server
  // (BENCH_INSPECTION_ENTRY=bundle: the server bundle, as before, to compare)
  await esbuild.build({
    entryPoints: [
      join(
        root,
        'plugins',
        'model-hub-backend',
        'src',
        'inspection',
        'inspectionWorker.ts',
      ),
    ],
    outfile: join(dirname(outfile), 'upload-ingest-inspection-worker.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    external: ['yauzl'],
  });
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
            args.path.startsWith('@model-hub/')
              ? undefined
              : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  return outfile;
}

async function startServer() {
  const outfile = await buildServer();
  // BENCH_SERVER_NODE_ARGS: extra node options for the server (e.g. --cpu-prof)
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '')
    .split(' ')
    .filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, outfile], {
    cwd: join(root, 'plugins', 'model-hub-backend'),
    env: { ...process.env, BENCH_WORK: work },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolvePromise({ child, port: Number(m[1]) });
    });
    child.on('exit', code =>
      reject(new Error(`server exited ${code}: ${out}`)),
    );
  });
}

function procStatus(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return Number(m[1]) * 1024;
}

/** CPU seconds (user + system, every thread) of a process so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks (100 per second on Linux)
  return (Number(f[11]) + Number(f[12])) / 100;
}

function upload(base, path, size, target) {
  return new Promise((resolvePromise, reject) => {
    const u = new tus.Upload(createReadStream(path), {
      endpoint: `${base}/uploads`,
      uploadSize: size,
      metadata: { model: 'default/bench', version: 'v1', path: target },
      retryDelays: [0, 500, 1000],
      onSuccess: ({ lastResponse }) =>
        resolvePromise(lastResponse.getHeader('X-Content-Sha256')),
      onError: reject,
    });
    u.start();
  });
}

/** The same upload with curl: creation with fetch, one PATCH with `curl -T`. */
async function curlUpload(base, path, size, target) {
  const meta = Object.entries({
    model: 'default/bench',
    version: 'v1',
    path: target,
  })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
  const res = await fetch(`${base}/uploads`, {
    method: 'POST',
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(size),
      'Upload-Metadata': meta,
    },
  });
  if (res.status !== 201)
    throw new Error(`create: ${res.status} ${await res.text()}`);
  const location = res.headers.get('location');
  const out = execFileSync('curl', [
    '-s',
    '-D',
    '-',
    '-o',
    '/dev/null',
    '-X',
    'PATCH',
    location,
    '-H',
    'Tus-Resumable: 1.0.0',
    '-H',
    'Upload-Offset: 0',
    '-H',
    'Content-Type: application/offset+octet-stream',
    '-T',
    path,
  ]).toString();
  return /x-content-sha256: ([a-f0-9]{64})/i.exec(out)?.[1];
}

async function removeAndGc(base) {
  const res = await fetch(`${base}/bench/reset`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`reset: ${res.status}`);
}

/** A TCP proxy that cuts the connection when the forwarded bytes cross each of `cutAt`. */
async function cuttingProxy(targetPort, cutAt) {
  const net = await import('node:net');
  const pending = [...cutAt].sort((a, b) => a - b);
  let forwarded = 0;
  let cuts = 0;
  const server = net.createServer(client => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.on('data', chunk => {
      forwarded += chunk.length;
      if (pending.length && forwarded >= pending[0]) {
        pending.shift();
        cuts += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', chunk => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    cuts: () => cuts,
    close: () => server.close(),
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const MIB = 1024 * 1024;
const rows = [];
let resume;
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
    const curlTimes = [];
    for (let run = 0; run < RUNS; run++) {
      // baseline: cp + sync into the same filesystem
      execFileSync('sync');
      const dst = join(work, 'cp-copy.bin');
      let t = process.hrtime.bigint();
      // a real copy: coreutils 9 clones the extents on xfs and btrfs
      // (reflink=auto), which writes no data (0.01 s for 2 GiB on xfs)
      execFileSync('cp', ['--reflink=never', src, dst]);
      execFileSync('sync');
      cpTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      rmSync(dst, { force: true });
      execFileSync('sync');

      // candidate: tus-js-client upload, until the file is a blob of the store
      const target = `weights/run-${sizeMiB}-${run}.bin`;
      let cpu = cpuSeconds(pid);
      t = process.hrtime.bigint();
      const digest = await upload(base, src, size, target);
      tusTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      const tusCpu = cpuSeconds(pid) - cpu;
      if (digest !== expected)
        throw new Error(`sha256 mismatch: ${digest} != ${expected}`);
      await removeAndGc(base, target);
      execFileSync('sync');

      // the same with curl as the client (lighter than tus-js-client)
      const target2 = `weights/curl-${sizeMiB}-${run}.bin`;
      cpu = cpuSeconds(pid);
      t = process.hrtime.bigint();
      const digest2 = await curlUpload(base, src, size, target2);
      curlTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      const curlCpu = cpuSeconds(pid) - cpu;
      if (digest2 !== expected)
        throw new Error(`sha256 mismatch (curl): ${digest2} != ${expected}`);
      await removeAndGc(base, target2);
      execFileSync('sync');
      console.log(
        `${sizeMiB} MiB run ${run + 1}: cp+sync ${cpTimes
          .at(-1)
          .toFixed(2)} s, tus-js-client ${tusTimes
          .at(-1)
          .toFixed(2)} s, curl PATCH ${curlTimes
          .at(-1)
          .toFixed(2)} s, server CPU ${tusCpu.toFixed(2)} / ${curlCpu.toFixed(
          2,
        )} s, server VmHWM ${(procStatus(pid, 'VmHWM') / MIB).toFixed(
          0,
        )} MiB, load ${loadavg()[0].toFixed(1)}`,
      );
    }
    for (const [client, times] of [
      ['tus-js-client', tusTimes],
      ['curl -T (one PATCH)', curlTimes],
    ]) {
      const ratios = cpTimes.map((c, i) => c / times[i]);
      rows.push({
        sizeMiB,
        client,
        cp: median(cpTimes),
        tus: median(times),
        ratioMin: Math.min(...ratios),
        ratioMed: median(ratios),
        ratioMax: Math.max(...ratios),
        hwm: procStatus(pid, 'VmHWM'),
      });
    }
  }
  // acceptance 1 at full size: tus-js-client, the connection cut twice
  if (process.env.BENCH_RESUME !== '0') {
    const sizeMiB = Number(process.env.BENCH_RESUME_MIB ?? 2048);
    const size = sizeMiB * MIB;
    const src = join(work, `input-${sizeMiB}.bin`);
    const expected = await makeFile(src, size);
    const proxy = await cuttingProxy(port, [
      Math.floor(size / 3),
      Math.floor((2 * size) / 3),
    ]);
    const t = process.hrtime.bigint();
    const digest = await upload(
      `http://127.0.0.1:${proxy.port}/api/model-hub`,
      src,
      size,
      'weights/resumed.bin',
    );
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    proxy.close();
    resume = {
      sizeMiB,
      seconds,
      cuts: proxy.cuts(),
      ok: digest === expected,
      digest,
      hwm: procStatus(pid, 'VmHWM'),
    };
    console.log(
      `resume ${sizeMiB} MiB: ${seconds.toFixed(1)} s, ${
        resume.cuts
      } cuts, sha256 ${resume.ok ? 'ok' : 'WRONG'}`,
    );
    await removeAndGc(base, 'weights/resumed.bin');
  }
} finally {
  child.kill('SIGTERM');
}

const cpu = cpus()[0]?.model ?? 'unknown';
const lines = [
  '# Upload ingest benchmark: results',
  '',
  `Generated by \`bench/upload-ingest/run.mjs\` on ${new Date()
    .toISOString()
    .slice(0, 10)}: ${cpus().length} × ${cpu}, Node ${process.version}.`,
  `Runs per size: ${RUNS}, interleaved (cp + sync, tus-js-client, curl). Random (incompressible) input; warm page cache for the source file. Load average at the end: ${loadavg()
    .map(l => l.toFixed(1))
    .join(', ')} (the box is shared with other work).`,
  '',
  '| file | client | cp + sync (median) | upload ingest (median) | ingest throughput | throughput ratio ingest / (cp + sync), min / median / max | server peak RSS (VmHWM) |',
  '| ---: | :--- | ---: | ---: | ---: | :---: | ---: |',
  ...rows.map(
    r =>
      `| ${r.sizeMiB} MiB | ${r.client} | ${r.cp.toFixed(
        2,
      )} s | ${r.tus.toFixed(2)} s | ${(r.sizeMiB / r.tus).toFixed(
        0,
      )} MiB/s | ${r.ratioMin.toFixed(2)} / ${r.ratioMed.toFixed(
        2,
      )} / ${r.ratioMax.toFixed(2)} × | ${(r.hwm / MIB).toFixed(0)} MiB |`,
  ),
  '',
  `Server RSS when idle after start: ${(rssIdle / MIB).toFixed(
    0,
  )} MiB. VmHWM is the peak RSS of the server process since it started, so each row includes every earlier upload.`,
  '',
  'Targets (issue 5, acceptance 4): ratio ≥ 0.5× of `cp` + `sync`; peak server memory ≤ 150 MiB regardless of size.',
  '',
  ...(resume
    ? [
        '## Resumable upload with the connection cut twice (acceptance 1)',
        '',
        `tus-js-client uploaded ${
          resume.sizeMiB
        } MiB through a TCP proxy that cut the connection at 1/3 and 2/3 of the bytes: ${
          resume.cuts
        } cuts, resumed each time, completed in ${resume.seconds.toFixed(
          1,
        )} s; sha256 ${resume.ok ? 'matches' : 'DOES NOT match'} (\`${
          resume.digest
        }\`). Server peak RSS (VmHWM) after it: ${(resume.hwm / MIB).toFixed(
          0,
        )} MiB.`,
        '',
      ]
    : []),
];
writeFileSync(join(here, 'results.md'), lines.join('\n'));
console.log(lines.join('\n'));
