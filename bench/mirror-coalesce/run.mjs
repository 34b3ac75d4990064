#!/usr/bin/env node
/*
 * Benchmark: 50 concurrent clients ask the HF mirror for the same 1 GiB
 * file of an approved version whose bytes are fetched on demand
 * (`modelHub.huggingface.fetch: on-demand`). Measures the upstream fetches
 * the mock Hub saw, each client's SHA-256, time to first byte and time to
 * the last byte, next to one client downloading the file straight from the
 * mock Hub. See README.md. Writes results.md next to this file.
 */
/* eslint-disable no-console */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, getPriority, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SIZE_MIB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const THREADS = Number(process.env.BENCH_CLIENT_THREADS ?? 4);
const UPSTREAM_MIBS = Number(process.env.BENCH_UPSTREAM_MIBS ?? 0);
const PORT = Number(process.env.BENCH_PORT ?? 7193);
const TOKEN = 'bench-static-token-coalesce-0123456789';
const work = resolve(
  process.env.BENCH_WORK ?? join(root, 'bench', '.tmp', 'mirror-coalesce'),
);
const children = [];
process.on('exit', () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
    }
  }
});

const load = () =>
  loadavg()
    .map(l => l.toFixed(2))
    .join(' / ');

function waitForLine(child, pattern, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`timeout waiting for ${pattern}: ${out}`)),
      timeoutMs,
    );
    const onData = data => {
      out += data.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', code =>
      reject(new Error(`exited with ${code} before ${pattern}: ${out}`)),
    );
  });
}

/** The clients of one thread: GETs started together, hashed as they stream. */
const CLIENT_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { createHash } = require('node:crypto');
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
function one(url, headers, method) {
  return new Promise(resolve => {
    const t0 = performance.now();
    let first;
    let bytes = 0;
    const hash = createHash('sha256');
    const req = http.request(url, { method, headers, agent }, res => {
      const headersMs = performance.now() - t0;
      res.on('data', chunk => {
        first ??= performance.now() - t0;
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({
        status: res.statusCode,
        length: Number(res.headers['content-length']),
        headersMs,
        firstByteMs: first,
        doneMs: performance.now() - t0,
        bytes,
        sha256: hash.digest('hex'),
      }));
      res.on('error', error => resolve({ status: res.statusCode, error: String(error), bytes }));
    });
    req.on('error', error => resolve({ error: String(error), bytes }));
    req.end();
  });
}
parentPort.once('message', async () => {
  const results = await Promise.all(
    Array.from({ length: workerData.clients }, () =>
      one(workerData.url, workerData.headers, workerData.method),
    ),
  );
  parentPort.postMessage(results);
});
parentPort.postMessage('ready');
`;

async function concurrentClients(
  url,
  headers,
  clients,
  threads,
  method = 'GET',
) {
  const per = Array.from(
    { length: threads },
    (_, i) => Math.floor(clients / threads) + (i < clients % threads ? 1 : 0),
  ).filter(n => n > 0);
  const workers = per.map(
    n =>
      new Worker(CLIENT_THREAD, {
        eval: true,
        workerData: { url, headers, clients: n, method },
      }),
  );
  await Promise.all(workers.map(w => new Promise(r => w.once('message', r))));
  const t0 = performance.now();
  const done = workers.map(
    w =>
      new Promise(r =>
        w.once('message', results => {
          w.terminate();
          r(results);
        }),
      ),
  );
  workers.forEach(w => w.postMessage('go'));
  const results = (await Promise.all(done)).flat();
  return { results, wallMs: performance.now() - t0 };
}

function getJson(url) {
  return new Promise((resolvePromise, reject) => {
    http
      .get(url, res => {
        let body = '';
        res.on('data', d => (body += d));
        res.on('end', () => resolvePromise(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

/** One GET straight from the mock Hub, hashed: the single-stream reference. */
function direct(url) {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    let first;
    const hash = createHash('sha256');
    http
      .get(url, res => {
        res.on('data', c => {
          first ??= performance.now() - t0;
          hash.update(c);
        });
        res.on('end', () =>
          resolvePromise({
            firstByteMs: first,
            doneMs: performance.now() - t0,
            sha256: hash.digest('hex'),
          }),
        );
      })
      .on('error', reject);
  });
}

const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) {
    return NaN;
  }
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
};
const sec = ms => (ms / 1000).toFixed(2);

function filesystemOf(path) {
  try {
    return execFileSync('df', ['--output=fstype,source', path])
      .toString()
      .trim()
      .split('\n')
      .pop()
      .trim()
      .replace(/\s+/, ' on ');
  } catch {
    return 'unknown';
  }
}

async function main() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const loadBefore = load();
  console.log(
    `Starting the mock Hub and the backend (${SIZE_MIB} MiB file, fetch: on-demand); load ${loadBefore}`,
  );
  const spawnTs = (script, args, env) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@backstage/cli/config/nodeTransform.cjs',
        join(here, script),
        ...args,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      },
    );
    children.push(child);
    return child;
  };
  // the mock Hub, in its own process
  const hub = spawnTs('upstream.ts', [String(PORT + 1)], {
    BENCH_SIZE_MIB: String(SIZE_MIB),
    BENCH_UPSTREAM_MIBS: String(UPSTREAM_MIBS),
  });
  const [, hubReady] = await waitForLine(hub, /READY (\{.*\})\n/, 600_000);
  const upstream = JSON.parse(hubReady);
  // the backend, seeded through the real sync
  const server = spawnTs('server.ts', [work, String(PORT), TOKEN], {
    BENCH_UPSTREAM_URL: upstream.url,
  });
  let serverLog = '';
  server.stdout.on('data', d => (serverLog += d));
  server.stderr.on('data', d => (serverLog += d));
  if (process.env.BENCH_DEBUG) {
    server.stdout.pipe(process.stderr);
  }
  const [, ready] = await waitForLine(server, /READY (\{.*\})\n/, 600_000);
  // a running backend: its download folder's write mode is measured (once,
  // at startup) before the clients come
  if (!/on-demand fetches ready/.test(serverLog)) {
    await waitForLine(server, /on-demand fetches ready/, 600_000);
  }
  const target = {
    ...upstream,
    upstreamUrl: upstream.fileUrl,
    ...JSON.parse(ready),
  };
  // count the upstream GETs from here (the seeding read only metadata)
  await new Promise((r, j) =>
    http
      .request(target.stats, { method: 'POST' }, res =>
        res.resume().on('end', r),
      )
      .on('error', j)
      .end(),
  );

  // a warm backend, as Hub clients find it: one HEAD of the file (what
  // huggingface_hub sends before a download; it never fetches upstream)
  const head = await new Promise((r, j) =>
    http
      .request(
        target.url,
        { method: 'HEAD', headers: { Authorization: `Bearer ${TOKEN}` } },
        res => {
          res.resume();
          r({ status: res.statusCode, length: res.headers['content-length'] });
        },
      )
      .on('error', j)
      .end(),
  );
  if (head.status !== 200 || Number(head.length) !== target.size) {
    throw new Error(`HEAD of the file answered ${JSON.stringify(head)}`);
  }
  const afterHead = await getJson(target.stats);
  if (afterHead.fileGets.length) {
    throw new Error('the HEAD fetched the file upstream');
  }

  // the request path alone, for comparison: the same clients send HEADs
  // (authentication, permission, revision resolution; nothing fetched)
  const heads = await concurrentClients(
    target.url,
    { Authorization: `Bearer ${TOKEN}` },
    CLIENTS,
    THREADS,
    'HEAD',
  );
  const headMs = heads.results.map(r => r.headersMs);
  if (
    heads.results.some(r => r.status !== 200) ||
    (await getJson(target.stats)).fileGets.length
  ) {
    throw new Error('the HEADs failed or fetched the file upstream');
  }

  const loadStart = load();
  console.log(`${CLIENTS} clients on ${THREADS} threads; load ${loadStart}`);
  const { results, wallMs } = await concurrentClients(
    target.url,
    { Authorization: `Bearer ${TOKEN}` },
    CLIENTS,
    THREADS,
  );
  const loadEnd = load();
  const stats = await getJson(target.stats);
  const fetchedLine =
    /Mirror fetched .* in ([\d.]+) s, first bytes after (\d+) ms/.exec(
      serverLog,
    );

  // the reference: one client straight from the mock Hub
  const reference = await direct(target.upstreamUrl);
  server.kill('SIGTERM');
  hub.kill('SIGTERM');

  const ok = results.filter(
    r =>
      r.status === 200 &&
      !r.error &&
      r.bytes === target.size &&
      r.sha256 === target.sha256,
  );
  const ttfb = results.map(r => r.firstByteMs).filter(v => v !== undefined);
  const done = ok.map(r => r.doneMs);
  const upstreamFetches = stats.fileGets.length;
  const medianTtfb = quantile(ttfb, 0.5);
  const checks = [
    ['exactly one upstream fetch (mock Hub log)', upstreamFetches === 1],
    [
      `all ${CLIENTS} clients got the right SHA-256`,
      ok.length === CLIENTS && ok.length === results.length,
    ],
    ['median time to first byte ≤ 1 s', medianTtfb <= 1000],
  ];
  const fs = filesystemOf(work);
  const date = new Date().toISOString();
  const run = {
    date,
    sizeMiB: SIZE_MIB,
    clients: CLIENTS,
    upstreamMiBs: UPSTREAM_MIBS || 'unlimited',
    upstreamFetches,
    upstreamRanges: stats.fileGets.map(g => g.range ?? null),
    correct: ok.length,
    ttfbMs: {
      median: medianTtfb,
      p95: quantile(ttfb, 0.95),
      max: Math.max(...ttfb),
    },
    doneMs: {
      median: quantile(done, 0.5),
      max: Math.max(...done),
    },
    wallMs,
    upstreamFetchS: fetchedLine ? Number(fetchedLine[1]) : null,
    upstreamFirstBytesMs: fetchedLine ? Number(fetchedLine[2]) : null,
    headOnlyMs: {
      median: quantile(headMs, 0.5),
      p95: quantile(headMs, 0.95),
    },
    headersMs: {
      median: quantile(
        results.map(r => r.headersMs).filter(v => v !== undefined),
        0.5,
      ),
    },
    reference,
    load: { before: loadBefore, start: loadStart, end: loadEnd },
    filesystem: fs,
    cpus: cpus().length,
    nice: getPriority(),
    errors: results
      .filter(r => r.error)
      .map(r => r.error)
      .slice(0, 5),
  };
  console.log(JSON.stringify(run, null, 2));

  const history = join(here, 'runs.jsonl');
  let previous = '';
  try {
    previous = readFileSync(history, 'utf8');
  } catch {
    // first run
  }
  writeFileSync(history, `${previous}${JSON.stringify(run)}\n`);
  const runs = `${previous}${JSON.stringify(run)}\n`
    .trim()
    .split('\n')
    .map(l => JSON.parse(l));
  const md = `# Mirror request coalescing benchmark

Generated by \`node bench/mirror-coalesce/run.mjs\` (see [README.md](./README.md)); latest run ${date}.

${CLIENTS} concurrent clients (${THREADS} client threads, one GET each, hashed with SHA-256 as the body
streams) ask a real Backstage backend with the Model Hub plugin for
\`/api/model-hub/hf/acme/big-model/resolve/main/model.safetensors\`, a ${SIZE_MIB} MiB LFS file of an approved
version synced with \`modelHub.huggingface.fetch: on-demand\`, whose bytes are not in the store. The upstream is the mock
Hub (\`@model-hub/mock-hf-server\`) over HTTP on loopback (per-connection pace: ${
    UPSTREAM_MIBS ? `${UPSTREAM_MIBS} MiB/s` : 'unlimited'
  }); its request log counts the upstream fetches of the file.
Machine: ${cpus().length} CPU cores (${cpus()[0]?.model ?? 'unknown'}), Node ${
    process.version
  }, nice ${getPriority()};
clients, backend and mock Hub share the cores. Work folder (partial file and store): ${fs}.

## Latest run

| acceptance (issue 16, point 3) | result | holds |
| --- | --- | --- |
| exactly one upstream fetch | ${upstreamFetches} GET of the file at the mock Hub | ${
    checks[0][1] ? 'yes' : '**no**'
  } |
| all ${CLIENTS} clients get the right SHA-256 | ${ok.length} of ${
    results.length
  } | ${checks[1][1] ? 'yes' : '**no**'} |
| median time to first byte ≤ 1 s | median ${sec(medianTtfb)} s (p95 ${sec(
    run.ttfbMs.p95,
  )} s, max ${sec(run.ttfbMs.max)} s) | ${checks[2][1] ? 'yes' : '**no**'} |

Time to the response headers of the GETs: median ${sec(
    run.headersMs.median,
  )} s. The request path alone, for comparison:
the same ${CLIENTS} clients sending a HEAD of the file together just before (authentication, permission, revision
resolution; nothing fetched) got their answers in median ${sec(
    run.headOnlyMs.median,
  )} s, p95 ${sec(run.headOnlyMs.p95)} s.

Last byte: median ${sec(run.doneMs.median)} s, last client ${sec(
    run.doneMs.max,
  )} s (all ${CLIENTS} clients, wall ${sec(wallMs)} s);
the shared upstream fetch (download, SHA-256 verification, store) took ${
    run.upstreamFetchS ?? '?'
  } s by the backend's log. Reference: one client straight from the mock Hub, same file, hashed:
first byte ${sec(reference.firstByteMs)} s, last byte ${sec(
    reference.doneMs,
  )} s.
Load average (1 / 5 / 15 min): ${loadBefore} before the backend started, ${loadStart} when the clients started,
${loadEnd} when they finished.

## Every run

| date (UTC) | MiB | clients | nice | upstream pace | upstream fetches | right SHA-256 | HEADs (same clients) median s | TTFB median / p95 / max s | last byte median / max s | upstream fetch s | direct 1 client s | load 1-min start → end | filesystem |
| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | --- |
${runs
  .map(
    r =>
      `| ${[
        r.date.slice(0, 16).replace('T', ' '),
        r.sizeMiB,
        r.clients,
        r.nice,
        typeof r.upstreamMiBs === 'number'
          ? `${r.upstreamMiBs} MiB/s`
          : r.upstreamMiBs,
        r.upstreamFetches,
        `${r.correct}/${r.clients}`,
        r.headOnlyMs ? sec(r.headOnlyMs.median) : '-',
        `${sec(r.ttfbMs.median)} / ${sec(r.ttfbMs.p95)} / ${sec(r.ttfbMs.max)}`,
        `${sec(r.doneMs.median)} / ${sec(r.doneMs.max)}`,
        r.upstreamFetchS ?? '?',
        sec(r.reference.doneMs),
        `${r.load.start.split(' / ')[0]} → ${r.load.end.split(' / ')[0]}`,
        r.filesystem,
      ].join(' | ')} |`,
  )
  .join('\n')}
`;
  writeFileSync(join(here, 'results.md'), md);
  if (!process.env.BENCH_KEEP) {
    rmSync(work, { recursive: true, force: true });
  }
  for (const [name, held] of checks) {
    console.log(`${held ? 'PASS' : 'FAIL'} ${name}`);
  }
  process.exitCode = checks.every(([, held]) => held) ? 0 : 1;
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
