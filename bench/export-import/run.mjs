#!/usr/bin/env node
/*
 * Benchmark: air-gapped export and import of a 2 GiB approved version
 * (issue 20, acceptance 4). Two real backends (portals A and B, each its
 * own SQLite database and local store); the CLI
 * (scripts/model-hub-transfer.mjs) exports the version from A into a bundle
 * file and imports it into B. Reports each server's peak RSS growth during
 * the operation (its high-water mark reset right before through
 * /proc/<pid>/clear_refs, read from VmHWM after, minus VmRSS before) and the
 * CLI's peak RSS, the times, and the ratio to a baseline of plain tools on
 * the same file: `tar cf` (export) and `tar xf` + `sha256sum` + `sync`
 * (import). Writes results.md. See README.md.
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SIZE_MIB = Number(process.env.BENCH_SIZE_MIB ?? 2048);
const work = resolve(
  process.env.BENCH_WORK ?? join(root, 'bench', '.tmp', 'export-import'),
);
const PORT_A = Number(process.env.BENCH_PORT_A ?? 7411);
const PORT_B = Number(process.env.BENCH_PORT_B ?? 7412);
const TOKEN = 'bench-export-import-static-token-0123456789';
const cli = join(root, 'scripts', 'model-hub-transfer.mjs');
const children = [];

function cleanup() {
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGTERM');
  }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function waitForLine(child, pattern, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} in ${timeoutMs} ms: ${out}`)),
      timeoutMs,
    );
    const onData = d => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', d => {
      out += d;
    });
    child.on('exit', code => reject(new Error(`exited ${code}: ${out}`)));
  });
}

function startPortal(role, keyFile, file) {
  const args = [
    '-r',
    '@backstage/cli/config/nodeTransform.cjs',
    join(here, 'server.ts'),
    role,
    join(work, role),
    String(role === 'a' ? PORT_A : PORT_B),
    TOKEN,
    keyFile,
    ...(file ? [file] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  children.push(child);
  return child;
}

const status = (pid, key) =>
  Number(
    new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    )[1],
  ) * 1024;

/** Runs fn with the peak RSS of pid reset before: { seconds, growth, before, peak }. */
function measured(pid, fn) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM
  const before = status(pid, 'VmRSS');
  const start = process.hrtime.bigint();
  const result = fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const peak = status(pid, 'VmHWM');
  return { seconds, before, peak, growth: peak - before, result };
}

/** A command under /usr/bin/time: its output and peak RSS. */
function timed(cmd, args, env = {}) {
  const res = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M', cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: ${res.status} ${res.stderr}`);
  }
  const rss = Number(/MAXRSS (\d+)/.exec(res.stderr)[1]) * 1024;
  return { stdout: res.stdout, stderr: res.stderr, rss };
}

function seconds(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const mib = b => (b / 1024 / 1024).toFixed(1);
const sh = c => execFileSync('sh', ['-c', c], { encoding: 'utf8' }).trim();

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const file = join(work, 'model.safetensors');
  console.log(`Writing a ${SIZE_MIB} MiB random file`);
  sh(`head -c ${SIZE_MIB}M /dev/urandom > '${file}'`);
  const sha = sh(`sha256sum '${file}'`).split(' ')[0];

  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(
    join(work, 'a.key.pem'),
    privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    join(work, 'a.pub.pem'),
    publicKey.export({ type: 'spki', format: 'pem' }),
  );

  console.log('Starting portal A (seeding the approved version) and portal B');
  const a = startPortal('a', join(work, 'a.key.pem'), file);
  const b = startPortal('b', join(work, 'a.pub.pem'));
  await Promise.all([
    waitForLine(a, /READY/, 600_000),
    waitForLine(b, /READY/, 600_000),
  ]);
  const loadBefore = loadavg();
  const env = { MODEL_HUB_TOKEN: TOKEN };
  const bundle = join(work, 'bench-big-v1.oci.tar');

  console.log('Export from A');
  const exp = measured(a.pid, () =>
    timed(
      process.execPath,
      [
        cli,
        'export',
        '--url',
        `http://127.0.0.1:${PORT_A}`,
        '--model',
        'bench/big',
        '--out',
        bundle,
      ],
      env,
    ),
  );
  const bundleSize = statSync(bundle).size;

  console.log('Import into B');
  const imp = measured(b.pid, () =>
    timed(
      process.execPath,
      [cli, 'import', '--url', `http://127.0.0.1:${PORT_B}`, bundle],
      env,
    ),
  );
  console.log(imp.result.stdout.trim());
  const files = JSON.parse(
    sh(
      `curl -sf -H 'Authorization: Bearer ${TOKEN}' http://127.0.0.1:${PORT_B}/api/model-hub/models/bench/big/versions/v1/files`,
    ),
  ).files;
  const importedSha = files.find(f => f.path === 'model.safetensors')?.sha256;
  if (importedSha !== sha) {
    throw new Error(`B holds ${importedSha}, the file is ${sha}`);
  }
  const loadAfter = loadavg();
  cleanup();

  // baseline: plain tools on the same bytes and filesystem
  console.log('Baseline: tar cf, then tar xf + sha256sum + sync');
  const baseDir = join(work, 'baseline');
  mkdirSync(baseDir, { recursive: true });
  const baseTar = join(baseDir, 'plain.tar');
  const tarExport = seconds(() =>
    sh(`tar cf '${baseTar}' -C '${work}' model.safetensors && sync`),
  );
  const tarImport = seconds(() =>
    sh(
      `mkdir -p '${baseDir}/x' && tar xf '${baseTar}' -C '${baseDir}/x' && sha256sum '${baseDir}/x/model.safetensors' >/dev/null && sync`,
    ),
  );

  const fs = sh(`df -T '${work}' | tail -1 | awk '{print $2" ("$1")"}'`);
  const row = [
    new Date().toISOString().slice(0, 16).replace('T', ' '),
    `${SIZE_MIB} MiB`,
    `${exp.seconds.toFixed(1)} s (${(exp.seconds / tarExport).toFixed(
      2,
    )}x tar cf ${tarExport.toFixed(1)} s)`,
    `${mib(exp.growth)} MiB (${mib(exp.before)} → ${mib(exp.peak)})`,
    `${mib(exp.result.rss)} MiB`,
    `${imp.seconds.toFixed(1)} s (${(imp.seconds / tarImport).toFixed(
      2,
    )}x tar xf+sha256sum ${tarImport.toFixed(1)} s)`,
    `${mib(imp.growth)} MiB (${mib(imp.before)} → ${mib(imp.peak)})`,
    `${mib(imp.result.rss)} MiB`,
    `${loadBefore.map(x => x.toFixed(1)).join(' ')} / ${loadAfter
      .map(x => x.toFixed(1))
      .join(' ')}`,
    fs,
  ];
  const results = join(here, 'results.md');
  if (!existsSync(results)) {
    writeFileSync(
      results,
      `# Export-import results

Written by \`node bench/export-import/run.mjs\` (one row per run, newest last).
Peak RSS growth: the server's VmHWM during the operation (reset right
before) minus its VmRSS before; the CLI's peak RSS is its whole process.
Bundle of one version with one random file (SHA-256 checked on B after the
import). ${cpus().length} CPUs.

| run (UTC) | file | export time | A peak RSS growth | export CLI peak RSS | import time | B peak RSS growth | import CLI peak RSS | load avg (1/5/15 min) before / after | filesystem |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
`,
    );
  }
  appendFileSync(results, `| ${row.join(' | ')} |\n`);
  console.log(
    `bundle ${mib(bundleSize)} MiB; export ${exp.seconds.toFixed(
      1,
    )} s, A growth ${mib(exp.growth)} MiB, CLI ${mib(
      exp.result.rss,
    )} MiB; import ${imp.seconds.toFixed(1)} s, B growth ${mib(
      imp.growth,
    )} MiB, CLI ${mib(imp.result.rss)} MiB; baseline tar cf ${tarExport.toFixed(
      1,
    )} s, tar xf+sha ${tarImport.toFixed(1)} s; load ${loadBefore[0].toFixed(
      1,
    )}→${loadAfter[0].toFixed(1)}; ${fs}`,
  );
  rmSync(work, { recursive: true, force: true });
}

main().catch(error => {
  console.error(error);
  cleanup();
  process.exit(1);
});
