/*
 * Benchmark: parallel ranged download of one big file from a mock Hub that
 * paces each connection to 50 MiB/s (as the Hub's CDN throttles each
 * connection), against single-stream `curl -o`; then the same download
 * killed (SIGKILL) half-way and started again: it resumes its pieces and the
 * SHA-256 must match. See README.md. Writes parallel-results.md.
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
import { resolveWriteMode } from '../../plugins/model-hub-backend/src/store/SequentialFileWriter';

const GIB = 1024 * 1024 * 1024;
const SIZE_GIB = Number(process.env.BENCH_SIZE_GIB ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const RATE_MIBPS = Number(process.env.BENCH_RATE_MIBPS ?? 50);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** The default of `modelHub.huggingface.parallelDownload.pieceSizeMiB`. */
const PIECE_MIB = Number(process.env.BENCH_PIECE_MIB ?? 32);
const TMP = join(__dirname, '..', '.tmp', 'hf-download-parallel');
const REPO = 'acme/big-model';
const FILE = 'model.safetensors';

function startMock(): Promise<{ url: string; stop: () => void }> {
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
        String(SIZE_GIB),
        '--cache-dir',
        join(TMP, 'mock-cache'),
        '--rate-limit-mibps',
        String(RATE_MIBPS),
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

/**
 * The downloading process: `downloadBlob` with parallel pieces into
 * `runDir` (SQLite, store, partial files), printing progress lines.
 */
async function child(mockUrl: string, runDir: string) {
  const client = new HuggingFaceClient({ endpoint: mockUrl });
  const f = (await client.listFiles(REPO, 'main')).find(x => x.path === FILE)!;
  const file = {
    path: f.path,
    size: f.size,
    oid: f.oid,
    lfsSha256: f.lfs!.sha256,
  };
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
  // what the backend does once per filesystem, at its first write there
  mkdirSync(join(runDir, 'downloads'), { recursive: true });
  await resolveWriteMode(join(runDir, 'downloads'));
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const blob = await downloadBlob({
    file,
    url: client.fileUrl(REPO, 'main', FILE),
    fetchRange: (headers, signal) =>
      client.streamFile(REPO, 'main', FILE, { headers, signal }),
    artifacts,
    partials: new PartialDownloadStore(knex),
    dir: join(runDir, 'downloads'),
    signal: new AbortController().signal,
    parallel: {
      connections: CONNECTIONS,
      minBytes: 64 * 1024 * 1024,
      pieceBytes: PIECE_MIB * 1024 * 1024,
    },
    onBytes: bytes => console.log(`PROGRESS ${bytes}`),
    log: message => console.log(`LOG ${message}`),
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const stored = statSync(join(runDir, 'store', blob.location)).size;
  // the stored file's SHA-256, computed by a separate tool
  const sha = execFileSync('sha256sum', [join(runDir, 'store', blob.location)])
    .toString()
    .split(' ')[0];
  console.log(
    `DONE ${JSON.stringify({
      secs,
      cpuSecs: (cpu.user + cpu.system) / 1e6,
      resumedFrom: blob.resumedFrom,
      sha256: sha,
      expected: file.lfsSha256,
      size: stored,
    })}`,
  );
  await knex.destroy();
}

type Done = {
  secs: number;
  cpuSecs: number;
  resumedFrom: number;
  sha256: string;
  expected: string;
  size: number;
};

/** Runs the downloading process; `killAt` (bytes): SIGKILL it there. */
function runChild(
  mockUrl: string,
  runDir: string,
  killAt?: number,
): Promise<{ done?: Done; killedAt?: number; secs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(
      process.execPath,
      [
        '-r',
        '@backstage/cli/config/nodeTransform.cjs',
        __filename,
        'child',
        mockUrl,
        runDir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let buf = '';
    let done: Done | undefined;
    let killedAt: number | undefined;
    p.stdout.on('data', d => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('PROGRESS ')) {
          const bytes = Number(line.slice(9));
          if (
            killAt !== undefined &&
            killedAt === undefined &&
            bytes >= killAt
          ) {
            killedAt = bytes;
            p.kill('SIGKILL');
          }
        } else if (line.startsWith('DONE ')) {
          done = JSON.parse(line.slice(5));
        } else if (line.startsWith('LOG ')) {
          console.log(`  ${line.slice(4)}`);
        }
      }
    });
    p.on('exit', code => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (done || killedAt !== undefined) {
        resolve({ done, killedAt, secs });
      } else {
        reject(new Error(`download process exited with ${code}`));
      }
    });
  });
}

function curl(url: string, out: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', ['-s', '-f', '-o', out, url]);
  if (r.status !== 0) {
    throw new Error(`curl failed: ${r.stderr}`);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(out, { force: true });
  return secs;
}

const fmtLoad = (l: number[]) => l.map(x => x.toFixed(2)).join(' ');

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const uptimeBefore = execFileSync('uptime').toString().trim();
  const mock = await startMock();
  const size = SIZE_GIB * GIB;
  const url = `${mock.url}/${REPO}/resolve/main/${FILE}`;
  const curlSecs: number[] = [];
  const ours: Done[] = [];
  const loads: string[] = [];
  let killed: { killedAt?: number; resumed?: Done } = {};
  try {
    for (let i = 0; i < RUNS; i++) {
      curlSecs.push(curl(url, join(TMP, 'curl.bin')));
      const r = await runChild(mock.url, join(TMP, `run-${i}`));
      ours.push(r.done!);
      rmSync(join(TMP, `run-${i}`), { recursive: true, force: true });
      loads.push(fmtLoad(loadavg()));
      console.log(
        `run ${i + 1}: curl -o ${curlSecs[i].toFixed(
          2,
        )} s, Model Hub ${r.done!.secs.toFixed(2)} s (${r.done!.cpuSecs.toFixed(
          1,
        )} CPU-s), sha256 ${
          r.done!.sha256 === r.done!.expected ? 'ok' : 'MISMATCH'
        }, load ${loads[i]}`,
      );
    }
    // killed half-way, then started again
    const runDir = join(TMP, 'killed');
    const first = await runChild(mock.url, runDir, size / 2);
    const second = await runChild(mock.url, runDir);
    killed = { killedAt: first.killedAt, resumed: second.done };
    console.log(
      `killed at ${first.killedAt} bytes; resumed from ${
        second.done?.resumedFrom
      } in ${second.done?.secs.toFixed(2)} s, sha256 ${
        second.done?.sha256 === second.done?.expected ? 'ok' : 'MISMATCH'
      }`,
    );
  } finally {
    mock.stop();
  }
  const uptimeAfter = execFileSync('uptime').toString().trim();
  rmSync(TMP, { recursive: true, force: true });
  const ratios = curlSecs.map((c, i) => c / ours[i].secs);
  const worst = Math.min(...ratios);
  const allOk =
    ours.every(o => o.sha256 === o.expected && o.size === size) &&
    killed.resumed?.sha256 === killed.resumed?.expected;
  const resumedOk =
    killed.resumed !== undefined &&
    killed.resumed.resumedFrom > 0 &&
    killed.resumed.sha256 === killed.resumed.expected;
  const lines = [
    '# Results: parallel ranged download',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${
      cpus()[0]?.model
    }), ${(totalmem() / GIB).toFixed(0)} GiB RAM, Node ${
      process.version
    }; mock Hub in its own process on 127.0.0.1 pacing every response to ${RATE_MIBPS} MiB/s; ${SIZE_GIB} GiB file; ${CONNECTIONS} connections, 32 MiB pieces; the machine's disk, \`writeMode: auto\`; ${RUNS} interleaved runs.`,
    '',
    `\`uptime\` before: \`${uptimeBefore}\`; after: \`${uptimeAfter}\`.`,
    '',
    '| | `curl -o` (one connection) | Model Hub (parallel pieces, SHA-256 verified, fsynced, stored) | ratio (target ≥ 3) |',
    '| --- | --- | --- | --- |',
    ...ours.map(
      (o, i) =>
        `| run ${i + 1} | ${curlSecs[i].toFixed(2)} s (${(
          size /
          curlSecs[i] /
          2 ** 20
        ).toFixed(0)} MiB/s) | ${o.secs.toFixed(2)} s (${(
          size /
          o.secs /
          2 ** 20
        ).toFixed(0)} MiB/s, ${o.cpuSecs.toFixed(1)} CPU-s) | ${ratios[
          i
        ].toFixed(2)}× |`,
    ),
    '',
    `Killed (SIGKILL) at ${
      killed.killedAt
    } of ${size} bytes, then started again: resumed with ${
      killed.resumed?.resumedFrom
    } bytes kept, finished in ${killed.resumed?.secs.toFixed(
      2,
    )} s; SHA-256 of the stored file (\`sha256sum\`) ${
      resumedOk ? 'matches' : 'DOES NOT match'
    } the LFS oid.`,
    '',
    `Target (issue 16, acceptance 2): ≥ 3× single-stream \`curl -o\`, verified: **${
      worst >= 3 && allOk ? 'met' : 'not met'
    }** (worst run ${worst.toFixed(
      2,
    )}×); killed half-way, resumes and the SHA-256 matches: **${
      resumedOk ? 'met' : 'not met'
    }**.`,
    '',
  ];
  writeFileSync(join(__dirname, 'parallel-results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

if (process.argv[2] === 'child') {
  child(process.argv[3], process.argv[4]).catch(error => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch(error => {
    console.error(error);
    process.exit(1);
  });
}
