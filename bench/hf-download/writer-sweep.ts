/*
 * Why a filesystem is slower for the download writer: writes BENCH_SWEEP_GIB
 * (default 1) from memory through SequentialFileWriter (direct and buffered,
 * several block sizes and writes in flight, fsync at the end) next to `dd
 * bs=4M oflag=direct` and `dd bs=4M conv=fsync` of the same size, on the
 * machine's disk, tmpfs, and ext4 and xfs images through loop devices (as
 * root; or BENCH_DIRS=name=/path,...). No network, no hash: only the write.
 * Writes writer-sweep.md. See README.md.
 */
/* eslint-disable no-console */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fs, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { SequentialFileWriter } from '../../plugins/model-hub-backend/src/store/SequentialFileWriter';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const SIZE = Number(process.env.BENCH_SWEEP_GIB ?? 1) * GIB;
const TMP = join(__dirname, '..', '.tmp', 'writer-sweep');
const CHUNK = 256 * 1024; // what the HTTP reader hands over

type Target = { name: string; dir: string };

function setUp(): { targets: Target[]; tearDown: () => void } {
  if (process.env.BENCH_DIRS) {
    return {
      targets: process.env.BENCH_DIRS.split(',').map(e => {
        const [name, dir] = e.split('=');
        mkdirSync(dir, { recursive: true });
        return { name, dir };
      }),
      tearDown: () => {},
    };
  }
  const disk = join(TMP, 'disk');
  mkdirSync(disk, { recursive: true });
  const targets: Target[] = [{ name: 'machine disk', dir: disk }];
  const mounted: string[] = [];
  const tearDown = () =>
    mounted.reverse().forEach(m => spawnSync('umount', [m]));
  if (process.getuid?.() !== 0) {
    return { targets, tearDown };
  }
  const gib = Math.ceil((SIZE * 2) / GIB) + 1;
  const mnt = (name: string) => {
    const dir = join(TMP, 'mnt', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const tmpfs = mnt('tmpfs');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${gib}G`, 'tmpfs', tmpfs]);
  mounted.push(tmpfs);
  targets.push({ name: 'tmpfs', dir: tmpfs });
  for (const [name, mkfs] of [
    ['ext4', ['mkfs.ext4', '-q', '-F']],
    ['xfs', ['mkfs.xfs', '-q', '-f']],
  ] as const) {
    const image = join(TMP, `${name}.img`);
    execFileSync('truncate', ['-s', `${gib}G`, image]);
    execFileSync(mkfs[0], [...mkfs.slice(1), image]);
    const dir = mnt(name);
    execFileSync('mount', ['-o', 'loop', image, dir]);
    mounted.push(dir);
    targets.push({ name: `${name} image (loop)`, dir });
  }
  return { targets, tearDown };
}

function dd(dir: string, flag: string) {
  const out = join(dir, 'dd.bin');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('dd', [
    'if=/dev/zero',
    `of=${out}`,
    'bs=4M',
    `count=${SIZE / (4 * MIB)}`,
    flag,
  ]);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(out, { force: true });
  if (r.status !== 0) {
    return 0;
  }
  return SIZE / secs / 1e6;
}

async function writer(
  dir: string,
  mode: 'direct' | 'buffered',
  blockSize: number,
  maxInflight: number,
  data: Buffer,
) {
  const path = join(dir, 'w.bin');
  await fs.writeFile(path, '');
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const w = await SequentialFileWriter.open(path, 0, {
    mode,
    blockSize,
    maxInflight,
  });
  for (let done = 0; done < SIZE; done += CHUNK) {
    const off = done % data.length;
    const wait = w.write(data.subarray(off, off + CHUNK));
    if (wait) {
      await wait;
    }
  }
  await w.sync();
  await w.close();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await fs.rm(path, { force: true });
  return {
    MBs: SIZE / secs / 1e6,
    cpu: (cpu.user + cpu.system) / 1e6,
    direct: w.usesDirectIo,
  };
}

async function main() {
  for (const m of ['tmpfs', 'ext4', 'xfs']) {
    spawnSync('umount', [join(TMP, 'mnt', m)]);
  }
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const { targets, tearDown } = setUp();
  const data = randomBytes(64 * MIB);
  const before = execFileSync('uptime').toString().trim();
  const lines: string[] = [];
  const configs: Array<['direct' | 'buffered', number, number]> = [
    ['direct', 4 * MIB, 2],
    ['direct', 1 * MIB, 2],
    ['direct', 16 * MIB, 2],
    ['direct', 4 * MIB, 1],
    ['direct', 4 * MIB, 4],
    ['buffered', 4 * MIB, 2],
  ];
  try {
    for (const t of targets) {
      const ddDirect = dd(t.dir, 'oflag=direct');
      const ddFsync = dd(t.dir, 'conv=fsync');
      const cells: string[] = [];
      for (const [mode, block, inflight] of configs) {
        const r = await writer(t.dir, mode, block, inflight, data);
        cells.push(
          `${r.MBs.toFixed(0)} (${r.cpu.toFixed(1)} CPU-s)${
            mode === 'direct' && !r.direct ? ' (page cache)' : ''
          }`,
        );
      }
      const line = `| ${t.name} | ${ddDirect.toFixed(0)} | ${ddFsync.toFixed(
        0,
      )} | ${cells.join(' | ')} | ${loadavg()
        .map(x => x.toFixed(1))
        .join(' ')} |`;
      console.log(line);
      lines.push(line);
    }
  } finally {
    tearDown();
    rmSync(TMP, { recursive: true, force: true });
  }
  const after = execFileSync('uptime').toString().trim();
  const md = [
    '# Writer sweep: SequentialFileWriter against dd, per filesystem',
    '',
    `Generated by \`bench/hf-download/writer-sweep.ts\` on ${new Date()
      .toISOString()
      .slice(0, 16)
      .replace('T', ' ')} UTC, ${cpus().length} CPUs, Node ${
      process.version
    }: ${
      SIZE / GIB
    } GiB written from memory in 256 KiB chunks, fsync included (no network, no hash). \`uptime\` before: \`${before}\`; after: \`${after}\`.`,
    '',
    'MB/s (CPU seconds of the writing process); `dd` reads /dev/zero with bs=4M.',
    '',
    `| filesystem | dd oflag=direct | dd conv=fsync | ${configs
      .map(
        ([mode, block, inflight]) =>
          `${mode} ${block / MIB} MiB × ${inflight} in flight`,
      )
      .join(' | ')} | load after |`,
    `| --- | --- | --- | ${configs.map(() => '---').join(' | ')} | --- |`,
    ...lines,
    '',
  ];
  writeFileSync(join(__dirname, 'writer-sweep.md'), md.join('\n'));
  console.log(md.join('\n'));
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
