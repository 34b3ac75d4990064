/*
 * Benchmark: download of one big file from the local mock Hugging Face Hub
 * through the Model Hub download path (HTTP fetch, partial file with fsynced
 * checkpoints, SHA-256 verification, atomic write into the local
 * content-addressed store), against `curl -o` of the same URL. Also the
 * resident memory growth of the download. See README.md. Writes results.md.
 */
/* eslint-disable no-console */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceClient';
import { downloadBlob } from '../../plugins/model-hub-backend/src/jobs/downloadBlob';
import { PartialDownloadStore } from '../../plugins/model-hub-backend/src/jobs/PartialDownloadStore';
import { LocalArtifactStore } from '../../plugins/model-hub-backend/src/store/LocalArtifactStore';
import { SequentialFileWriter } from '../../plugins/model-hub-backend/src/store/SequentialFileWriter';

const GIB = 1024 * 1024 * 1024;
const SIZE_GIB = Number(process.env.BENCH_SIZE_GIB ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TMP = join(__dirname, '..', '.tmp', 'hf-download');
const REPO = 'acme/big-model';
const FILE = 'model.safetensors';

function startMock(
  sizeGib: number,
): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(
          __dirname,
          '..',
          '..',
          'packages',
          'mock-hf-server',
          'bin',
          'mock-hf-server.js',
        ),
        '--port',
        '0',
        '--big-file-gib',
        String(sizeGib),
        // served from a file in the page cache: a light server, as for curl
        '--cache-dir',
        join(TMP, 'mock-cache'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      const m = /MOCK_HF_URL=(\S+)/.exec(out);
      if (m) {
        resolve({ url: m[1], stop: () => child.kill('SIGTERM') });
      }
    });
    child.on('exit', code => reject(new Error(`mock exited ${code}: ${out}`)));
  });
}

const fmtLoad = (l: number[]) => l.map(x => x.toFixed(2)).join(' ');

function median(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function fileInfo(url: string) {
  const client = new HuggingFaceClient({ endpoint: url });
  const files = await client.listFiles(REPO, 'main');
  const f = files.find(x => x.path === FILE)!;
  return {
    client,
    file: { path: f.path, size: f.size, oid: f.oid, lfsSha256: f.lfs!.sha256 },
  };
}

/** `curl -o`, optionally followed by `sync <file>` (an fsync of the file). */
function curl(url: string, out: string, durable = false): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', ['-s', '-f', '-o', out, url]);
  if (r.status !== 0) {
    throw new Error(`curl failed: ${r.stderr}`);
  }
  if (durable) {
    const s = spawnSync('sync', [out]);
    if (s.status !== 0) {
      throw new Error(`sync failed: ${s.stderr}`);
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(out, { force: true });
  return secs;
}

/** Whether the writer gets O_DIRECT in this folder (as downloads will). */
async function usesDirectIo(file: string) {
  writeFileSync(file, '');
  const writer = await SequentialFileWriter.open(file, 0);
  const direct = writer.usesDirectIo;
  await writer.close();
  rmSync(file);
  return direct;
}

async function ours(url: string, runDir: string) {
  const { client, file } = await fileInfo(url);
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
  const direct = await usesDirectIo(join(runDir, 'probe'));
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let streamed = 0;
  const blob = await downloadBlob({
    file,
    url: client.fileUrl(REPO, 'main', FILE),
    fetchRange: (headers, signal) =>
      client.streamFile(REPO, 'main', FILE, { headers, signal }),
    artifacts,
    partials,
    dir: join(runDir, 'downloads'),
    signal: new AbortController().signal,
    onBytes: bytes => {
      if (bytes === file.size)
        streamed = Number(process.hrtime.bigint() - t0) / 1e9;
    },
  });
  if (process.env.BENCH_DEBUG)
    console.log(`streamed in ${streamed.toFixed(2)} s`);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (blob.sha256 !== file.lfsSha256) {
    throw new Error('digest mismatch');
  }
  const stored = statSync(join(runDir, 'store', blob.location)).size;
  if (stored !== file.size) {
    throw new Error('size mismatch');
  }
  await knex.destroy();
  rmSync(runDir, { recursive: true, force: true });
  return { secs, cpuSecs, rssGrowth: peak - baseline, direct };
}

function ratios(baseline: number[], ours: number[]) {
  const r = baseline.map((b, i) => b / ours[i]).sort((x, y) => x - y);
  return { min: r[0], median: median(r), max: r[r.length - 1] };
}

async function measure(sizeGib: number) {
  const loadBefore = loadavg();
  const mock = await startMock(sizeGib);
  try {
    const size = Math.round(sizeGib * GIB);
    const url = `${mock.url}/${REPO}/resolve/main/${FILE}`;
    // warm up the mock and the page cache
    curl(url, join(TMP, 'warmup.bin'));
    const curlSecs: number[] = [];
    const curlSyncSecs: number[] = [];
    const oursSecs: number[] = [];
    const growth: number[] = [];
    const cpuSecs: number[] = [];
    let direct = false;
    // interleaved: curl -o, curl -o && sync, Model Hub; RUNS times
    for (let i = 0; i < RUNS; i++) {
      curlSecs.push(curl(url, join(TMP, `curl-${i}.bin`)));
      curlSyncSecs.push(curl(url, join(TMP, `curl-sync-${i}.bin`), true));
      const r = await ours(mock.url, join(TMP, `run-${i}`));
      oursSecs.push(r.secs);
      growth.push(r.rssGrowth);
      cpuSecs.push(r.cpuSecs);
      direct = r.direct;
      console.log(
        `${sizeGib} GiB run ${i + 1}: curl ${curlSecs[i].toFixed(
          2,
        )} s, curl+sync ${curlSyncSecs[i].toFixed(
          2,
        )} s, model hub ${r.secs.toFixed(2)} s (${r.cpuSecs.toFixed(
          1,
        )} CPU-s), RSS growth ${(r.rssGrowth / 2 ** 20).toFixed(1)} MiB`,
      );
    }
    return {
      sizeGib,
      curlSecs,
      curlSyncSecs,
      oursSecs,
      curlMBs: size / median(curlSecs) / 1e6,
      curlSyncMBs: size / median(curlSyncSecs) / 1e6,
      oursMBs: size / median(oursSecs) / 1e6,
      vsCurl: ratios(curlSecs, oursSecs),
      vsCurlSync: ratios(curlSyncSecs, oursSecs),
      maxGrowthMiB: Math.max(...growth) / 2 ** 20,
      cpuSecs,
      direct,
      loadBefore,
      load: loadavg(),
    };
  } finally {
    mock.stop();
  }
}

const fmtRatio = (r: { min: number; median: number; max: number }) =>
  `${r.min.toFixed(2)} / **${r.median.toFixed(2)}** / ${r.max.toFixed(2)}`;

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const sizes = [...new Set([0.5, SIZE_GIB])];
  const results = [];
  for (const s of sizes) {
    results.push(await measure(s));
  }
  rmSync(TMP, { recursive: true, force: true });
  const main = results[results.length - 1];
  const lines = [
    '# Results: Hugging Face download',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${
      cpus()[0]?.model
    }), ${(totalmem() / GIB).toFixed(0)} GiB RAM, Node ${
      process.version
    }; mock Hub in its own process on 127.0.0.1, serving the file from its cache folder (page cache); ${RUNS} interleaved runs per size (curl -o, curl -o && sync, Model Hub). Model Hub wrote ${
      main.direct
        ? 'with O_DIRECT'
        : 'through the page cache (no O_DIRECT here)'
    }.`,
    '',
    'Throughput from the median times; ratios are Model Hub / baseline per run (time of the baseline / time of Model Hub), min / **median** / max.',
    '',
    '| file | `curl -o` | `curl -o` && `sync` | Model Hub (verify + fsync + atomic store write) | ratio vs `curl -o` (target ≥ 0.8) | ratio vs `curl -o` && `sync` | peak RSS growth (target < 64 MiB) |',
    '| ---- | --------- | ------------------- | ----------------------------------------------- | --------------------------------- | ---------------------------- | --------------------------------- |',
    ...results.map(
      r =>
        `| ${r.sizeGib} GiB | ${r.curlMBs.toFixed(0)} MB/s (${median(
          r.curlSecs,
        ).toFixed(2)} s) | ${r.curlSyncMBs.toFixed(0)} MB/s (${median(
          r.curlSyncSecs,
        ).toFixed(2)} s) | ${r.oursMBs.toFixed(0)} MB/s (${median(
          r.oursSecs,
        ).toFixed(2)} s) | ${fmtRatio(r.vsCurl)} | ${fmtRatio(
          r.vsCurlSync,
        )} | ${r.maxGrowthMiB.toFixed(1)} MiB |`,
    ),
    '',
    `Target (issue 4, acceptance 4): ${SIZE_GIB} GiB at ≥ 0.8× \`curl -o\` (median of the per-run ratios): **${
      main.vsCurl.median >= 0.8 ? 'met' : 'not met'
    }** (${main.vsCurl.median.toFixed(
      2,
    )}×; lowest single run ${main.vsCurl.min.toFixed(
      2,
    )}×); RSS growth < 64 MiB at every size: **${
      results.every(r => r.maxGrowthMiB < 64) ? 'met' : 'not met'
    }**.`,
    '',
    `Load: this shares ${
      cpus().length
    } CPUs with the mock Hub (and with whatever else runs on the machine). A load average well above ${
      cpus().length
    } means a busy machine and figures that understate both sides.`,
    '',
    'Raw seconds per run:',
    '',
    ...results.map(
      r =>
        `- ${r.sizeGib} GiB: curl -o ${r.curlSecs
          .map(s => s.toFixed(2))
          .join(', ')}; curl -o && sync ${r.curlSyncSecs
          .map(s => s.toFixed(2))
          .join(', ')}; Model Hub ${r.oursSecs
          .map(s => s.toFixed(2))
          .join(', ')} (CPU seconds of the downloading process: ${r.cpuSecs
          .map(s => s.toFixed(1))
          .join(', ')}); load average (1, 5, 15 min) before: ${fmtLoad(
          r.loadBefore,
        )}, at the end: ${fmtLoad(r.load)}`,
    ),
    '',
  ];
  writeFileSync(join(__dirname, 'results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
