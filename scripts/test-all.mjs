// The test command of the README: every package's tests, on SQLite and, when
// PostgreSQL answers on 127.0.0.1:5432, on PostgreSQL too.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { portAnswers, root, run, yarn } from './env.mjs';

const env = {
  ...process.env,
  CI: process.env.CI || 'true', // no watch mode
  BACKSTAGE_TEST_DISABLE_DOCKER: '1', // no Docker engine here; use real servers
};

const pgVar = Object.keys(env).find(k =>
  /^BACKSTAGE_TEST_DATABASE_POSTGRES\d+_CONNECTION_STRING$/.test(k),
);
if (pgVar) {
  console.log(`[test] PostgreSQL from ${pgVar}`);
} else if (await portAnswers(5432)) {
  let major = 15;
  try {
    const num = execFileSync(
      'psql',
      ['-h', '127.0.0.1', '-U', 'postgres', '-tAc', 'SHOW server_version_num'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    major = Math.floor(Number(num) / 10000) || 15;
  } catch {
    // psql missing: the label of the id does not matter to the tests
  }
  const name = `BACKSTAGE_TEST_DATABASE_POSTGRES${major}_CONNECTION_STRING`;
  env[name] = 'postgresql://postgres@127.0.0.1:5432';
  console.log(
    `[test] PostgreSQL ${major} answers on 127.0.0.1:5432: testing on SQLite and PostgreSQL`,
  );
} else {
  console.log('[test] no PostgreSQL on 127.0.0.1:5432: testing on SQLite only');
}

const unit = await yarn(
  ['backstage-cli', 'repo', 'test', ...process.argv.slice(2)],
  { env },
);
if (unit !== 0) {
  process.exit(unit);
}

// The demo portal as a user meets it: real backend and frontend, real
// sign-in, the catalog API, then the browser tests in Chromium.
// MODEL_HUB_SMOKE=0 skips it all, MODEL_HUB_SMOKE=backend keeps only the
// backend checks.
if (process.env.MODEL_HUB_SMOKE !== '0') {
  const args = [path.join(root, 'scripts', 'smoke-demo.mjs')];
  if (process.env.MODEL_HUB_SMOKE !== 'backend') {
    await ensureChromium();
    args.push('--e2e');
  }
  process.exit(await run(process.execPath, args));
}
process.exit(0);

/** Debian's Chromium for Playwright; installed when missing and we may. */
async function ensureChromium() {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(chromium)) {
    return;
  }
  const isRoot = process.getuid?.() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(
      '[test] installing Chromium from Debian (apt-get install chromium)',
    );
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const ok =
      (await run('apt-get', ['update', '-qq'], { env })) === 0 &&
      (await run('apt-get', ['install', '-y', '-qq', 'chromium'], { env })) ===
        0;
    if (ok && existsSync(chromium)) {
      return;
    }
  }
  console.error(
    `[test] the browser tests need Chromium at ${chromium}: install Debian's chromium package ` +
      '(apt-get install chromium), set CHROMIUM_PATH, or run with MODEL_HUB_SMOKE=backend',
  );
  process.exit(1);
}
