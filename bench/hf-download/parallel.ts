/*
 * Benchmark: parallel ranged download of one big file from a mock Hub that
 * paces each connection to 50 MiB/s (as the Hub's CDN throttles each
 * connection), against single-stream `curl -o`, side by side in each run,
 * with 8 parallel `curl -r` ranges to /dev/null as the ceiling of the mock
 * and the loopback (nothing written, nothing verified); then the same
 * download killed (SIGKILL) half-way and started again: it resumes its
 * pieces and the SHA-256 must match. CPU seconds of each side (the mock's
 * from /proc), peak RSS and the load average are recorded. Writes
 * parallel-results.md.
 *
 *   node -r @backstage/cli/config/nodeTransform.cjs bench/hf-download/parallel.ts
 *
 * BENCH_RUNS (3), BENCH_SIZE_GIB (2), BENCH_RATE_MIBPS (50),
 * BENCH_CONNECTIONS (8), BENCH_PIECE_MIB (32, the config default),
 * BENCH_WORK (a folder on the filesystem to test; default bench/.tmp).
 */
/* eslint-disable no-console */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { resolveWriteMode } from '../../plugins/model-hub-backend/src/store/SequentialFileWriter';
import {
  bigFileUrl,
  cpuSecondsOf,
  openDownload,
  startClock,
} from './lib/download';

const GIB = 1024 * 1024 * 1024;
const SIZE_GIB = Number(process.env.BENCH_SIZE_GIB ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RATE_MIBPS = Number(process.env.BENCH_RATE_MIBPS ?? 50);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** The default of `modelHub.huggingface.parallelDownload.pieceSizeMiB`. */
const PIECE_MIB = Number(process.env.BENCH_PIECE_MIB ?? 32);
const TMP = join(
  process.env.BENCH_WORK ?? join(__dirname, '..', '.tmp'),
  'hf-download-parallel',
);

function startMock(): Promise<{ url: string; pid: number; stop: () => void }> {
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
        resolve({
          url: m[1],
          pid: child.pid!,
          stop: () => child.kill('SIGTERM'),
        });
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
  const stack = await openDownload(mockUrl, runDir);
  const { file } = stack;
  // what the backend does once per filesystem, at its first write there
  mkdirSync(stack.dir, { recursive: true });
  await resolveWriteMode(stack.dir);
  const rssBefore = process.resourceUsage().maxRSS;
  const mainStat = `/proc/${process.pid}/task/${process.pid}/stat`;
  const main0 = cpuSecondsOf(mainStat);
  const clock = startClock();
  const blob = await stack.download({
    parallel: {
      connections: CONNECTIONS,
      minBytes: 64 * 1024 * 1024,
      pieceBytes: PIECE_MIB * 1024 * 1024,
    },
    onBytes: bytes => console.log(`PROGRESS ${bytes}`),
    log: message => console.log(`LOG ${message}`),
  });
  const { secs, cpuSecs } = clock.stop();
  const rssPeak = process.resourceUsage().maxRSS;
  const mainCpuSecs = cpuSecondsOf(mainStat) - main0;
  const stored = statSync(join(runDir, 'store', blob.location)).size;
  // the stored file's SHA-256, computed by a separate tool
  const sha = execFileSync('sha256sum', [join(runDir, 'store', blob.location)])
    .toString()
    .split(' ')[0];
  console.log(
    `DONE ${JSON.stringify({
      secs,
      cpuSecs,
      mainCpuSecs,
      resumedFrom: blob.resumedFrom,
      rssBeforeMiB: rssBefore / 1024,
      rssPeakMiB: rssPeak / 1024,
      sha256: sha,
      expected: file.lfsSha256,
      size: stored,
    })}`,
  );
  await stack.knex.destroy();
}

type Done = {
  secs: number;
  cpuSecs: number;
  /** Of the thread that receives the bytes (the rest: hashing, writes). */
  mainCpuSecs: number;
  resumedFrom: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  /** From the download's last log line. */
  memory?: { fromMemory: number; readBack: number; buffers: number };
  directIo?: boolean;
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
    let memory: Done['memory'];
    let directIo: boolean | undefined;
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
          done = { ...JSON.parse(line.slice(5)), memory, directIo };
        } else if (line.startsWith('LOG ')) {
          console.log(`  ${line.slice(4)}`);
          const m =
            /\((direct I\/O|page cache)\); hashed (\d+) bytes from memory, (\d+) read back; (\d+) buffers/.exec(
              line,
            );
          if (m) {
            directIo = m[1] === 'direct I/O';
            memory = {
              fromMemory: Number(m[2]),
              readBack: Number(m[3]),
              buffers: Number(m[4]),
            };
          }
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

type Timed = { secs: number; cpuSecs: number };

/** Runs commands at once; wall time and their CPU seconds (`time`). */
function timed(commands: string[][]): Promise<Timed> {
  const t0 = process.hrtime.bigint();
  return Promise.all(
    commands.map(
      args =>
        new Promise<number>((resolve, reject) => {
          const p = spawn('/usr/bin/time', ['-f', 'CPU %U %S', ...args], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          p.stderr.on('data', d => {
            err += d;
          });
          p.on('exit', code => {
            const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
            if (code !== 0 || !m) {
              reject(new Error(`${args.join(' ')} failed: ${err}`));
            } else {
              resolve(Number(m[1]) + Number(m[2]));
            }
          });
        }),
    ),
  ).then(cpu => ({
    secs: Number(process.hrtime.bigint() - t0) / 1e9,
    cpuSecs: cpu.reduce((a, b) => a + b, 0),
  }));
}

async function curl(url: string, out: string): Promise<Timed> {
  const r = await timed([['curl', '-s', '-f', '-o', out, url]]);
  rmSync(out, { force: true });
  return r;
}

/** `connections` ranged `curl`s at once to /dev/null: the mock's ceiling. */
function curlRanges(url: string, size: number): Promise<Timed> {
  const part = Math.ceil(size / CONNECTIONS);
  return timed(
    Array.from({ length: CONNECTIONS }, (_, i) => [
      'curl',
      '-s',
      '-f',
      '-r',
      `${i * part}-${Math.min(size, (i + 1) * part) - 1}`,
      '-o',
      '/dev/null',
      url,
    ]),
  );
}

const fmtLoad = (l: number[]) => l.map(x => x.toFixed(2)).join(' ');
const mibps = (bytes: number, secs: number) =>
  (bytes / secs / 2 ** 20).toFixed(0);

type Run = {
  load: string;
  curl: Timed;
  ranges: Timed;
  ours: Done;
  mockCpuCurl: number;
  mockCpuRanges: number;
  mockCpuOurs: number;
};

async function main() {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const fsType = execFileSync('df', ['-T', TMP])
    .toString()
    .trim()
    .split('\n')
    .pop()!
    .split(/\s+/)
    .slice(0, 2)
    .join(' ');
  const uptimeBefore = execFileSync('uptime').toString().trim();
  const mock = await startMock();
  const size = SIZE_GIB * GIB;
  const url = bigFileUrl(mock.url);
  const runs: Run[] = [];
  let killed: { killedAt?: number; resumed?: Done } = {};
  const mockCpu = () => cpuSecondsOf(`/proc/${mock.pid}/stat`);
  try {
    for (let i = 0; i < RUNS; i++) {
      const load = fmtLoad(loadavg());
      let m0 = mockCpu();
      const c = await curl(url, join(TMP, 'curl.bin'));
      const mockCpuCurl = mockCpu() - m0;
      m0 = mockCpu();
      const ranges = await curlRanges(url, size);
      const mockCpuRanges = mockCpu() - m0;
      m0 = mockCpu();
      const r = await runChild(mock.url, join(TMP, `run-${i}`));
      const mockCpuOurs = mockCpu() - m0;
      rmSync(join(TMP, `run-${i}`), { recursive: true, force: true });
      const ours = r.done!;
      runs.push({
        load,
        curl: c,
        ranges,
        ours,
        mockCpuCurl,
        mockCpuRanges,
        mockCpuOurs,
      });
      console.log(
        `run ${i + 1} (load ${load}): curl -o ${c.secs.toFixed(
          2,
        )} s, ${CONNECTIONS} curl ranges ${ranges.secs.toFixed(
          2,
        )} s, Model Hub ${ours.secs.toFixed(2)} s (${ours.cpuSecs.toFixed(
          1,
        )} CPU-s, mock ${mockCpuOurs.toFixed(1)} CPU-s), sha256 ${
          ours.sha256 === ours.expected ? 'ok' : 'MISMATCH'
        }: ${(c.secs / ours.secs).toFixed(2)}x`,
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
  const ratios = runs.map(r => r.curl.secs / r.ours.secs);
  const worst = Math.min(...ratios);
  const allOk = runs.every(
    r => r.ours.sha256 === r.ours.expected && r.ours.size === size,
  );
  const resumedOk =
    killed.resumed !== undefined &&
    killed.resumed.resumedFrom > 0 &&
    killed.resumed.size === size &&
    killed.resumed.sha256 === killed.resumed.expected;
  const mem = (d: Done) =>
    d.memory
      ? `${(d.memory.fromMemory / 2 ** 20).toFixed(
          0,
        )} MiB hashed from memory, ${(d.memory.readBack / 2 ** 20).toFixed(
          0,
        )} MiB read back, ≤ ${d.memory.buffers} × 4 MiB buffers`
      : '';
  const lines = [
    '# Results: parallel ranged download',
    '',
    `Run on ${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs (${
      cpus()[0]?.model
    }), ${(totalmem() / GIB).toFixed(0)} GiB RAM, Node ${
      process.version
    }; mock Hub in its own process on 127.0.0.1 (serving from its --cache-dir) pacing every response to ${RATE_MIBPS} MiB/s; ${SIZE_GIB} GiB file; ${CONNECTIONS} connections, ${PIECE_MIB} MiB pieces; work folder on \`${fsType}\` (\`df -T\`), \`writeMode: auto\`; ${RUNS} interleaved runs.`,
    '',
    'Command: `node -r @backstage/cli/config/nodeTransform.cjs bench/hf-download/parallel.ts` (BENCH_RUNS, BENCH_PIECE_MIB, BENCH_WORK, ...).',
    '',
    `\`uptime\` before: \`${uptimeBefore}\`; after: \`${uptimeAfter}\`.`,
    '',
    `| | load (1, 5, 15 min) | \`curl -o\` (one connection) | ${CONNECTIONS} \`curl -r\` to /dev/null (ceiling: nothing written or verified) | Model Hub (parallel pieces, SHA-256 verified, fsynced, stored) | ratio to \`curl -o\` (target ≥ 3) |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r, i) =>
        `| run ${i + 1} | ${r.load} | ${r.curl.secs.toFixed(2)} s (${mibps(
          size,
          r.curl.secs,
        )} MiB/s; curl ${r.curl.cpuSecs.toFixed(
          1,
        )} CPU-s, mock ${r.mockCpuCurl.toFixed(1)}) | ${r.ranges.secs.toFixed(
          2,
        )} s (${mibps(
          size,
          r.ranges.secs,
        )} MiB/s; curls ${r.ranges.cpuSecs.toFixed(
          1,
        )} CPU-s, mock ${r.mockCpuRanges.toFixed(1)}) | ${r.ours.secs.toFixed(
          2,
        )} s (${mibps(size, r.ours.secs)} MiB/s; ${r.ours.cpuSecs.toFixed(
          1,
        )} CPU-s (${r.ours.mainCpuSecs.toFixed(
          1,
        )} receiving thread), mock ${r.mockCpuOurs.toFixed(1)}; ${
          r.ours.directIo ? 'direct I/O' : 'page cache'
        }; peak RSS ${r.ours.rssPeakMiB.toFixed(
          0,
        )} MiB, ${r.ours.rssBeforeMiB.toFixed(0)} before; ${mem(
          r.ours,
        )}) | ${ratios[i].toFixed(2)}× |`,
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
