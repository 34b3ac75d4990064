/*
 * Benchmark: download of one big file from the local mock Hugging Face Hub
 * through the Model Hub download path (HTTP fetch, partial file with fsynced
 * checkpoints, SHA-256 verification, atomic write into the local
 * content-addressed store), against `curl -o` and `curl -o && sync` of the
 * same URL, side by side on several filesystems: the machine's disk, tmpfs,
 * and ext4 and xfs images through loop devices (set up when run as root, or
 * given by BENCH_DIRS). Also the resident memory growth of the download.
 * See README.md. Writes results.md.
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  resolveWriteMode,
  WriteModeDecision,
} from '../../plugins/model-hub-backend/src/store/SequentialFileWriter';
import {
  bigFileUrl,
  cpuSecondsOf,
  openDownload,
  startClock,
} from './lib/download';

const GIB = 1024 * 1024 * 1024;
const SIZE_GIB = Number(process.env.BENCH_SIZE_GIB ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TMP = join(__dirname, '..', '.tmp', 'hf-download');
/** Size of each loop image and of the tmpfs mount, GiB. */
const IMAGE_GIB = Math.ceil(SIZE_GIB * 2 + 1);

function startMock(
  sizeGib: number,
): Promise<{ url: string; pid: number; stop: () => void }> {
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

const fmtLoad = (l: number[]) => l.map(x => x.toFixed(2)).join(' ');

function median(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU seconds of `curl` (and `sync`) in the last {@link curl} call. */
let lastCurlCpu = 0;

/**
 * Untimed, before each measured command: a global `sync`, so that no command
 * pays for the dirty data the one before it left (curl -o leaves 2 GiB in
 * the page cache; on the loop images it also sits in the host's page cache
 * of the image file, and the next fsync through the loop device writes it).
 */
function settle() {
  spawnSync('sync');
}

/** `curl -o`, optionally followed by `sync <file>` (an fsync of the file). */
function curl(url: string, out: string, durable = false): number {
  const t0 = process.hrtime.bigint();
  const cpu0 = cpuSecondsOf('/proc/self/stat', true);
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
  lastCurlCpu = cpuSecondsOf('/proc/self/stat', true) - cpu0;
  rmSync(out, { force: true });
  return secs;
}

async function ours(url: string, runDir: string) {
  const stack = await openDownload(url, runDir);
  const { file } = stack;
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const clock = startClock();
  let streamed = 0;
  const blob = await stack.download({
    onBytes: bytes => {
      if (bytes === file.size) streamed = clock.elapsed();
    },
  });
  if (process.env.BENCH_DEBUG)
    console.log(`streamed in ${streamed.toFixed(2)} s`);
  const { secs, cpuSecs } = clock.stop();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (blob.sha256 !== file.lfsSha256) {
    throw new Error('digest mismatch');
  }
  const stored = statSync(join(runDir, 'store', blob.location)).size;
  if (stored !== file.size) {
    throw new Error('size mismatch');
  }
  await stack.knex.destroy();
  rmSync(runDir, { recursive: true, force: true });
  return { secs, cpuSecs, rssGrowth: peak - baseline };
}

function ratios(baseline: number[], ours: number[]) {
  const r = baseline.map((b, i) => b / ours[i]).sort((x, y) => x - y);
  return { min: r[0], median: median(r), max: r[r.length - 1] };
}

type Target = { name: string; dir: string; kind: string };

function sh(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The type of the filesystem `dir` is on, from the longest mount point. */
function fsType(dir: string): string {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map(l => l.split(' '))
    .filter(
      ([, point]) =>
        point &&
        (dir === point || dir.startsWith(`${point.replace(/\/$/, '')}/`)),
    )
    .sort((a, b) => b[1].length - a[1].length);
  return mounts[0]?.[2] ?? 'unknown';
}

/**
 * The filesystems to compare: BENCH_DIRS (`name=/path,...`), else the
 * machine's disk (bench/.tmp) plus, as root, tmpfs and ext4 and xfs images
 * on loop devices (image files on the machine's disk), mounted here and
 * removed at the end.
 */
function setUpTargets(): { targets: Target[]; tearDown: () => void } {
  if (process.env.BENCH_DIRS) {
    const targets = process.env.BENCH_DIRS.split(',').map(entry => {
      const [name, dir] = entry.split('=');
      mkdirSync(dir, { recursive: true });
      return { name, dir, kind: fsType(dir) };
    });
    return { targets, tearDown: () => {} };
  }
  const disk = join(TMP, 'disk');
  mkdirSync(disk, { recursive: true });
  const targets: Target[] = [
    { name: 'machine disk', dir: disk, kind: fsType(disk) },
  ];
  const mounted: string[] = [];
  const tearDown = () => {
    for (const m of mounted.reverse()) {
      spawnSync('umount', [m]);
    }
  };
  if (process.getuid?.() !== 0) {
    console.log('not root: only the machine disk (or set BENCH_DIRS)');
    return { targets, tearDown };
  }
  const mnt = (name: string) => {
    const dir = join(TMP, 'mnt', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  try {
    const dir = mnt('tmpfs');
    sh('mount', ['-t', 'tmpfs', '-o', `size=${IMAGE_GIB}G`, 'tmpfs', dir]);
    mounted.push(dir);
    targets.push({ name: 'tmpfs', dir, kind: 'tmpfs' });
  } catch (error) {
    console.log(`tmpfs skipped: ${error}`);
  }
  for (const [name, mkfs] of [
    ['ext4', ['mkfs.ext4', '-q', '-F']],
    ['xfs', ['mkfs.xfs', '-q', '-f']],
  ] as const) {
    try {
      const image = join(TMP, `${name}.img`);
      sh('truncate', ['-s', `${IMAGE_GIB}G`, image]);
      sh(mkfs[0], [...mkfs.slice(1), image]);
      const dir = mnt(name);
      sh('mount', ['-o', 'loop', image, dir]);
      mounted.push(dir);
      targets.push({ name: `${name} image (loop)`, dir, kind: name });
    } catch (error) {
      console.log(`${name} image skipped: ${error}`);
    }
  }
  return { targets, tearDown };
}

type FsResult = {
  target: Target;
  decision: WriteModeDecision;
  probeSecs: number;
  ddDirectMBs: number;
  ddFsyncMBs: number;
  curlSecs: number[];
  curlSyncSecs: number[];
  oursSecs: number[];
  cpuSecs: number[];
  /** CPU seconds of curl + sync, and of the mock Hub serving each. */
  curlSyncCpu: number[];
  mockCpuCurlSync: number[];
  mockCpuOurs: number[];
  growth: number[];
  loads: string[];
};

/**
 * `dd` of 512 MiB of the mock's cached file (in the page cache), direct or
 * with a final fsync: what the filesystem does.
 */
function dd(dir: string, flag: string): number {
  const cache = join(TMP, 'mock-cache');
  const source = readdirSync(cache)
    .map(f => join(cache, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const out = join(dir, 'dd.bin');
  const r = spawnSync('dd', [
    `if=${source}`,
    `of=${out}`,
    'bs=4M',
    'count=128',
    flag,
  ]);
  rmSync(out, { force: true });
  const m = /copied, ([\d.]+) s/.exec(r.stderr.toString());
  return m ? (512 * 2 ** 20) / Number(m[1]) / 1e6 : 0;
}

async function main() {
  spawnSync('umount', [join(TMP, 'mnt', 'tmpfs')]);
  spawnSync('umount', [join(TMP, 'mnt', 'ext4')]);
  spawnSync('umount', [join(TMP, 'mnt', 'xfs')]);
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const { targets, tearDown } = setUpTargets();
  const mock = await startMock(SIZE_GIB);
  const results: FsResult[] = [];
  const loadBefore = loadavg();
  const uptimeBefore = execFileSync('uptime').toString().trim();
  try {
    const url = bigFileUrl(mock.url);
    // warm up the mock and the page cache
    curl(url, join(TMP, 'warmup.bin'));
    for (const target of targets) {
      // what the backend does at startup: measure the write modes once
      const t0 = process.hrtime.bigint();
      const decision = await resolveWriteMode(target.dir);
      const probeSecs = Number(process.hrtime.bigint() - t0) / 1e9;
      const r: FsResult = {
        target,
        decision,
        probeSecs,
        ddDirectMBs: dd(target.dir, 'oflag=direct'),
        ddFsyncMBs: dd(target.dir, 'conv=fsync'),
        curlSecs: [],
        curlSyncSecs: [],
        oursSecs: [],
        cpuSecs: [],
        curlSyncCpu: [],
        mockCpuCurlSync: [],
        mockCpuOurs: [],
        growth: [],
        loads: [],
      };
      results.push(r);
      console.log(
        `${target.name} (${target.kind}): writes ${decision.mode} (${
          decision.basis
        }; direct ${decision.directMBs.toFixed(
          0,
        )} MB/s, buffered ${decision.bufferedMBs.toFixed(
          0,
        )} MB/s, probe ${probeSecs.toFixed(
          2,
        )} s); dd oflag=direct ${r.ddDirectMBs.toFixed(
          0,
        )} MB/s, dd conv=fsync ${r.ddFsyncMBs.toFixed(0)} MB/s`,
      );
    }
    // interleaved: per run, every filesystem: curl -o, curl -o && sync,
    // Model Hub
    for (let i = 0; i < RUNS; i++) {
      for (const r of results) {
        const dir = r.target.dir;
        settle();
        r.curlSecs.push(curl(url, join(dir, `curl-${i}.bin`)));
        settle();
        let mockCpu = cpuSecondsOf(`/proc/${mock.pid}/stat`);
        r.curlSyncSecs.push(curl(url, join(dir, `curl-sync-${i}.bin`), true));
        settle();
        r.curlSyncCpu.push(lastCurlCpu);
        r.mockCpuCurlSync.push(
          cpuSecondsOf(`/proc/${mock.pid}/stat`) - mockCpu,
        );
        mockCpu = cpuSecondsOf(`/proc/${mock.pid}/stat`);
        const o = await ours(mock.url, join(dir, `run-${i}`));
        r.mockCpuOurs.push(cpuSecondsOf(`/proc/${mock.pid}/stat`) - mockCpu);
        r.oursSecs.push(o.secs);
        r.cpuSecs.push(o.cpuSecs);
        r.growth.push(o.rssGrowth);
        r.loads.push(fmtLoad(loadavg()));
        console.log(
          `${r.target.name} run ${i + 1}: curl ${r.curlSecs[i].toFixed(
            2,
          )} s, curl+sync ${r.curlSyncSecs[i].toFixed(2)} s (${r.curlSyncCpu[
            i
          ].toFixed(1)} CPU-s), model hub ${o.secs.toFixed(
            2,
          )} s (${o.cpuSecs.toFixed(1)} CPU-s), RSS growth ${(
            o.rssGrowth /
            2 ** 20
          ).toFixed(1)} MiB, load ${r.loads[i]}`,
        );
      }
    }
  } finally {
    mock.stop();
    tearDown();
  }
  const uptimeAfter = execFileSync('uptime').toString().trim();
  rmSync(TMP, { recursive: true, force: true });
  const size = SIZE_GIB * GIB;
  const mbs = (secs: number[]) =>
    `${(size / median(secs) / 1e6).toFixed(0)} MB/s (${median(secs).toFixed(
      2,
    )} s)`;
  const rows = results.map(r => ({
    r,
    vsCurl: ratios(r.curlSecs, r.oursSecs),
    vsSync: ratios(r.curlSyncSecs, r.oursSecs),
  }));
  const worst = Math.min(...rows.map(x => x.vsSync.min));
  const lines = [
    '# Results: Hugging Face download',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${
      cpus()[0]?.model
    }), ${(totalmem() / GIB).toFixed(0)} GiB RAM, Node ${
      process.version
    }; mock Hub in its own process on 127.0.0.1, serving the file from its cache folder (page cache); ${SIZE_GIB} GiB, ${RUNS} runs interleaved across the filesystems (per filesystem: curl -o, curl -o && sync, Model Hub with \`writeMode: auto\`; an untimed global \`sync\` before each, so that none pays for the dirty data of the one before).`,
    '',
    `\`uptime\` before: \`${uptimeBefore}\`; after: \`${uptimeAfter}\`. Other engineers' tests share the ${
      cpus().length
    } cores: a load average well above ${
      cpus().length
    } means figures that understate both sides.`,
    '',
    'Ratios are Model Hub / baseline per run (time of the baseline / time of Model Hub): **worst** / median / best. Throughput from the median times.',
    '',
    '| filesystem | write mode chosen (probe: direct / buffered, MB/s; tmpfs: by statfs type, no probe) | `dd` 512 MiB `oflag=direct` / `conv=fsync` | `curl -o` | `curl -o && sync` | Model Hub (verify + fsync + atomic store write) | vs `curl -o && sync` (target ≥ 0.8) | vs `curl -o` | CPU-s (median): `curl -o && sync` / Model Hub | peak RSS growth |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      ({ r, vsCurl, vsSync }) =>
        `| ${r.target.name} (${r.target.kind}) | ${r.decision.mode} (${
          r.decision.basis === 'probe'
            ? `${r.decision.directMBs.toFixed(
                0,
              )} / ${r.decision.bufferedMBs.toFixed(0)}, ${r.probeSecs.toFixed(
                1,
              )} s`
            : `no probe: ${r.decision.basis}`
        }) | ${r.ddDirectMBs.toFixed(0)} / ${r.ddFsyncMBs.toFixed(
          0,
        )} MB/s | ${mbs(r.curlSecs)} | ${mbs(r.curlSyncSecs)} | ${mbs(
          r.oursSecs,
        )} | **${vsSync.min.toFixed(2)}** / ${vsSync.median.toFixed(
          2,
        )} / ${vsSync.max.toFixed(2)} | **${vsCurl.min.toFixed(
          2,
        )}** / ${vsCurl.median.toFixed(2)} / ${vsCurl.max.toFixed(
          2,
        )} | ${median(r.curlSyncCpu).toFixed(1)} / ${median(r.cpuSecs).toFixed(
          1,
        )} | ${(Math.max(...r.growth) / 2 ** 20).toFixed(1)} MiB |`,
    ),
    '',
    `Target (issue 16, acceptance 1): ${SIZE_GIB} GiB at ≥ 0.8× \`curl -o && sync\` on each filesystem, worst run: **${
      worst >= 0.8 ? 'met' : 'not met'
    }** (worst ${worst.toFixed(2)}×).`,
    '',
    'Raw seconds per run:',
    '',
    ...results.map(
      r =>
        `- ${r.target.name}: curl -o ${r.curlSecs
          .map(s => s.toFixed(2))
          .join(', ')}; curl -o && sync ${r.curlSyncSecs
          .map(s => s.toFixed(2))
          .join(', ')}; Model Hub ${r.oursSecs
          .map(s => s.toFixed(2))
          .join(', ')} (CPU seconds: ${r.cpuSecs
          .map(s => s.toFixed(1))
          .join(', ')}; curl -o && sync: ${r.curlSyncCpu
          .map(s => s.toFixed(1))
          .join(
            ', ',
          )}; the mock Hub serving curl -o && sync: ${r.mockCpuCurlSync
          .map(s => s.toFixed(1))
          .join(', ')}, serving Model Hub: ${r.mockCpuOurs
          .map(s => s.toFixed(1))
          .join(', ')}); load average after each run: ${r.loads.join('; ')}`,
    ),
    '',
    `Load average (1, 5, 15 min) at the start: ${fmtLoad(loadBefore)}.`,
    '',
  ];
  writeFileSync(join(__dirname, 'results.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
