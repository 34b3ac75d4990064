// Installs everything the demo and the tests need, from a fresh clone on a
// machine that has only Node and npm. Safe to run again: it does nothing
// when the install is up to date.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { root, yarn } from './env.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (!(major === 20 ? minor >= 19 : major === 22 || major === 24)) {
  console.error(
    `Model Hub needs Node.js 20.19+, 22 or 24; this is ${process.version}`,
  );
  process.exit(1);
}

const state = path.join(root, 'node_modules', '.yarn-state.yml');
const lock = path.join(root, 'yarn.lock');
const manifest = path.join(root, 'package.json');
const upToDate =
  existsSync(state) &&
  statSync(state).mtimeMs >= statSync(lock).mtimeMs &&
  statSync(state).mtimeMs >= statSync(manifest).mtimeMs;

if (!upToDate) {
  console.log('[setup] installing dependencies (yarn install)');
  const args = ['install'];
  if (process.env.CI) {
    args.push('--immutable');
  }
  const code = await yarn(args);
  if (code !== 0) {
    console.error(`[setup] yarn install failed with exit code ${code}`);
    process.exit(code);
  }
}

mkdirSync(path.join(root, 'data', 'sqlite'), { recursive: true });
console.log('[setup] ready');
