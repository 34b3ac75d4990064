// Shared set-up for the scripts: the environment that yarn, native addons and
// the tests need on a fresh machine with only Node and npm.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
);

export function yarnPath() {
  const dir = path.join(root, '.yarn', 'releases');
  const release = readdirSync(dir).find(f => /^yarn-.*\.cjs$/.test(f));
  if (!release) {
    throw new Error(`No yarn release in ${dir}`);
  }
  return path.join(dir, release);
}

/** Environment for yarn and node-gyp: build native addons from source. */
export function buildEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  if (!env.npm_config_nodedir) {
    try {
      const nodedir = execFileSync('npm', ['config', 'get', 'nodedir'], {
        encoding: 'utf8',
      }).trim();
      if (nodedir && nodedir !== 'undefined' && nodedir !== 'null') {
        env.npm_config_nodedir = nodedir;
      }
    } catch {
      // npm is optional here; node-gyp falls back to its own lookup
    }
  }
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  if (!env.NODE_EXTRA_CA_CERTS && existsSync(ca)) {
    env.NODE_EXTRA_CA_CERTS = ca;
  }
  env.YARN_ENABLE_TELEMETRY = '0';
  return env;
}

/** Runs a command, inheriting stdio; resolves with its exit code. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: 'inherit',
      env: buildEnv(),
      ...options,
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? 1 : code ?? 1));
  });
}

export function yarn(args, options) {
  return run(process.execPath, [yarnPath(), ...args], options);
}

/** Tells whether something answers on a TCP port of this machine. */
export function portAnswers(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise(resolve => {
    const socket = net.connect({ port, host });
    const done = ok => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('connect', () => done(true));
    socket.on('error', () => done(false));
  });
}
