#!/usr/bin/env node
/*
 * Benchmark: the HF mirror serving a cached 1 GiB file vs nginx serving the
 * same file on loopback, full and ranged downloads with curl. See README.md.
 * Writes results.md next to this file.
 */
/* eslint-disable no-console */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, getPriority, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const SIZE_MIB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CHUNK_MIB = Number(process.env.BENCH_CHUNK_MIB ?? 64);
const SMALL_CHUNK_MIB = 8;
const MIRROR_PORT = 7191;
const NGINX_PORT = 7192;
const TOKEN = 'bench-static-token-0123456789';
const work = join(root, 'bench', '.tmp', 'mirror-serve');
const children = [];

function cleanup() {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
    }
  }
}
process.on('exit', cleanup);

function ensureNginx() {
  const found = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p));
  if (found) {
    return found;
  }
  console.log('nginx is missing: apt-get install -y nginx');
  execFileSync('apt-get', ['install', '-y', 'nginx'], { stdio: 'inherit' });
  return '/usr/sbin/nginx';
}

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

/** Runs curl on the URL list, returns bytes/s over the wall time. */
function curl(urls, ranges, auth) {
  const lines = [];
  urls.forEach((url, i) => {
    lines.push(`url = "${url}"`, 'output = "/dev/null"');
    if (ranges?.[i]) {
      lines.push(`range = "${ranges[i]}"`);
    }
  });
  const cfg = join(work, 'curl.cfg');
  writeFileSync(cfg, `${lines.join('\n')}\n`);
  const args = [
    '-s',
    '--fail',
    '-K',
    cfg,
    '-w',
    '%{http_code} %{size_download}\n',
  ];
  if (auth) {
    args.push('-H', `Authorization: Bearer ${TOKEN}`);
  }
  const start = process.hrtime.bigint();
  const res = spawnSync('curl', args, { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (res.status !== 0) {
    throw new Error(`curl failed: ${res.status} ${res.stderr}`);
  }
  const results = res.stdout
    .trim()
    .split('\n')
    .map(l => l.split(' '));
  const bytes = results.reduce((a, [, size]) => a + Number(size), 0);
  const codes = [...new Set(results.map(([code]) => code))];
  return { bytesPerSecond: bytes / seconds, bytes, seconds, codes };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 1/100 s
}

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mibps = x => (x / 1024 / 1024).toFixed(0);

async function main() {
  const nginx = ensureNginx();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const file = join(work, 'source.bin');
  console.log(`Writing a ${SIZE_MIB} MiB random file`);
  execFileSync('sh', ['-c', `head -c ${SIZE_MIB}M /dev/urandom > '${file}'`]);

  console.log('Starting the Backstage backend with the Model Hub plugin');
  const server = spawn(
    process.execPath,
    [
      '-r',
      '@backstage/cli/config/nodeTransform.cjs',
      join(here, 'server.ts'),
      file,
      join(work, 'backend'),
      String(MIRROR_PORT),
      TOKEN,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  children.push(server);
  const [, blob] = await waitForLine(server, /READY (\S+)/, 300_000);
  const blobPath = resolve(root, blob);
  rmSync(file);
  const size = statSync(blobPath).size;

  const ngxDir = join(work, 'nginx');
  mkdirSync(join(ngxDir, 'logs'), { recursive: true });
  writeFileSync(
    join(ngxDir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
user root;
pid ${ngxDir}/nginx.pid;
error_log ${ngxDir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${ngxDir}/body;
  proxy_temp_path ${ngxDir}/proxy;
  fastcgi_temp_path ${ngxDir}/fastcgi;
  uwsgi_temp_path ${ngxDir}/uwsgi;
  scgi_temp_path ${ngxDir}/scgi;
  server {
    listen 127.0.0.1:${NGINX_PORT};
    location = /model.safetensors {
      alias ${blobPath};
      default_type application/octet-stream;
    }
  }
}
`,
  );
  const ngx = spawn(
    nginx,
    [
      '-p',
      ngxDir,
      '-e',
      `${ngxDir}/logs/error.log`,
      '-c',
      join(ngxDir, 'nginx.conf'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(ngx);
  await new Promise(r => setTimeout(r, 1000));
  // the worker serves; the master only supervises
  const nginxWorker = Number(
    execFileSync('pgrep', ['-P', String(ngx.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')[0],
  );

  const targets = {
    nginx: {
      url: `http://127.0.0.1:${NGINX_PORT}/model.safetensors`,
      auth: false,
      pid: nginxWorker,
    },
    mirror: {
      url: `http://127.0.0.1:${MIRROR_PORT}/api/model-hub/hf/bench/big/resolve/main/model.safetensors`,
      auth: true,
      pid: server.pid,
    },
  };
  const chunkRanges = mib => {
    const chunk = mib * 1024 * 1024;
    const ranges = [];
    for (let start = 0; start < size; start += chunk) {
      ranges.push(`${start}-${Math.min(start + chunk, size) - 1}`);
    }
    return ranges;
  };
  const scenarios = {
    full: () => ({ count: 1, ranges: undefined }),
    [`ranged ${CHUNK_MIB} MiB`]: () => {
      const ranges = chunkRanges(CHUNK_MIB);
      return { count: ranges.length, ranges };
    },
    [`ranged ${SMALL_CHUNK_MIB} MiB`]: () => {
      const ranges = chunkRanges(SMALL_CHUNK_MIB);
      return { count: ranges.length, ranges };
    },
  };

  // warm up: the page cache and both servers
  for (const t of Object.values(targets)) {
    curl([t.url], undefined, t.auth);
  }

  const loadBefore = loadavg()[0];
  const results = {};
  const cpu = {};
  for (const [name, make] of Object.entries(scenarios)) {
    const { count, ranges } = make();
    results[name] = { nginx: [], mirror: [] };
    cpu[name] = { nginx: [], mirror: [] };
    for (let run = 0; run < RUNS; run++) {
      // alternate the order so that drift hits both sides alike
      const order = run % 2 ? ['mirror', 'nginx'] : ['nginx', 'mirror'];
      for (const key of order) {
        const t = targets[key];
        const cpuBefore = cpuSeconds(t.pid);
        const r = curl(Array(count).fill(t.url), ranges, t.auth);
        cpu[name][key].push(
          (cpuSeconds(t.pid) - cpuBefore) / (size / 1024 ** 3),
        );
        const expectCode = ranges ? '206' : '200';
        if (
          r.codes.length !== 1 ||
          r.codes[0] !== expectCode ||
          r.bytes !== size
        ) {
          throw new Error(`${key} ${name}: unexpected ${r.codes} ${r.bytes}`);
        }
        results[name][key].push(r.bytesPerSecond);
      }
    }
    const n = median(results[name].nginx);
    const m = median(results[name].mirror);
    console.log(
      `${name}: nginx ${mibps(n)} MiB/s, mirror ${mibps(m)} MiB/s, ratio ${(
        m / n
      ).toFixed(2)}`,
    );
  }

  const loadAfter = loadavg()[0];
  const cpuRows = Object.entries(cpu).map(
    ([name, c]) =>
      `| ${name} | ${median(c.nginx).toFixed(2)} | ${median(c.mirror).toFixed(
        2,
      )} |`,
  );
  const rows = Object.entries(results).map(([name, r]) => {
    const n = median(r.nginx);
    const m = median(r.mirror);
    const paired = median(r.mirror.map((x, i) => x / r.nginx[i]));
    const cells = [
      name,
      mibps(n),
      mibps(m),
      `**${(m / n).toFixed(2)}**`,
      `**${paired.toFixed(2)}**`,
      r.nginx.map(mibps).join(', '),
      r.mirror.map(mibps).join(', '),
    ];
    return `| ${cells.join(' | ')} |`;
  });
  const curlVersion = execFileSync('curl', ['--version'], {
    encoding: 'utf8',
  }).split('\n')[0];
  const nginxVersion = spawnSync(nginx, ['-v'], {
    encoding: 'utf8',
  }).stderr.trim();
  writeFileSync(
    join(here, 'results.md'),
    `# Mirror serving benchmark

Generated by \`bench/mirror-serve/run.mjs\` on ${new Date()
      .toISOString()
      .slice(0, 10)}: one ${SIZE_MIB} MiB file
(random bytes, in the page cache) downloaded with curl over loopback from

- **nginx** (${nginxVersion}, \`sendfile on\`, 1 worker) serving the blob file of the artifact store directly, and
- **the mirror**: \`GET /api/model-hub/hf/bench/big/resolve/main/model.safetensors\` on a real Backstage backend
  (\`createBackend\` from @backstage/backend-defaults with the Model Hub plugin; root router with compression, helmet,
  CORS, the credentials barrier; SQLite), authenticated with a static external-access token, reading the same blob.

Machine: ${cpus().length} CPU cores (${cpus()[0].model}), Node ${
      process.version
    }, ${curlVersion}. Client and servers
share the cores. Each figure is the median of ${RUNS} runs (runs alternate which server goes first); a ranged run fetches
the whole file as consecutive \`Range: bytes=a-b\` requests (206) on one keep-alive connection. Throughput = bytes / wall
time of the curl process; "paired" is the median of the per-run ratios (each run measures both servers back to back, so
it is less sensitive to load changes). Nice value of the benchmark (servers and curl inherit it): ${getPriority()}. The 1-minute load average was ${loadBefore.toFixed(
      1,
    )} before and
${loadAfter.toFixed(
  1,
)} after the measurements (other work on the machine adds noise). Target (issue 7, acceptance 3):
mirror ≥ 0.7 × nginx.

| scenario | nginx MiB/s | mirror MiB/s | mirror / nginx (medians) | paired | nginx runs | mirror runs |
| --- | ---: | ---: | ---: | ---: | --- | --- |
${rows.join('\n')}

Server CPU time (user + system of the nginx worker, of the backend process) per GiB served, median of the runs;
unlike throughput, it hardly depends on the load of the machine:

| scenario | nginx CPU s/GiB | mirror CPU s/GiB |
| --- | ---: | ---: |
${cpuRows.join('\n')}

The 8 MiB ranged row is informational (many small requests: per-request cost of authentication, three database queries
and the permission check); the target applies to the full and the ${CHUNK_MIB} MiB ranged downloads.
`,
  );
  console.log('Wrote results.md');
}

main()
  .then(async () => {
    cleanup();
    // the servers exit on SIGTERM; then the 1 GiB of data goes
    await new Promise(r => setTimeout(r, 1000));
    if (!process.env.BENCH_KEEP) {
      rmSync(work, { recursive: true, force: true });
    }
    process.exit(0);
  })
  .catch(error => {
    console.error(error);
    cleanup();
    process.exit(1);
  });
