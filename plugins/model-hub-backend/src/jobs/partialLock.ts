import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a held lock file is touched, and when an untouched one is stale. */
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 200;

type LockOwner = { host: string; pid: number; token: string; since: string };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(
  lockPath: string,
): Promise<{ owner?: LockOwner; mtimeMs: number } | undefined> {
  try {
    const [text, stat] = await Promise.all([
      fs.readFile(lockPath, 'utf8'),
      fs.stat(lockPath),
    ]);
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(text);
    } catch {
      // being written, or torn: its age decides
    }
    return { owner, mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

/**
 * The lock of a partial file among processes that share the download
 * folder (instances of the backend on one volume): `<partial>.lock`,
 * created exclusively, touched every few seconds while held. A lock of a
 * process of this host that is gone, or one untouched for 30 s, is stale
 * and taken over (the partial bytes it left are resumed).
 *
 * @internal
 */
export async function acquirePartialLock(
  tempPath: string,
  signal: AbortSignal,
  log?: (message: string) => Promise<void> | void,
): Promise<{ waited: boolean; release: () => Promise<void> }> {
  const lockPath = `${tempPath}.lock`;
  const owner: LockOwner = {
    host: hostname(),
    pid: process.pid,
    token: randomUUID(),
    since: new Date().toISOString(),
  };
  await fs.mkdir(dirname(lockPath), { recursive: true });
  let waited = false;
  for (;;) {
    signal.throwIfAborted();
    try {
      await fs.writeFile(lockPath, JSON.stringify(owner), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    const held = await readLock(lockPath);
    if (!held) {
      continue;
    }
    const gone =
      held.owner &&
      held.owner.host === owner.host &&
      held.owner.pid !== process.pid &&
      !processAlive(held.owner.pid);
    if (gone || Date.now() - held.mtimeMs > LOCK_STALE_MS) {
      // only the lock that was judged stale is removed
      const again = await readLock(lockPath);
      if (again && again.owner?.token === held.owner?.token) {
        await fs.rm(lockPath, { force: true });
        await log?.(
          `Took over the stale lock of ${tempPath}${
            held.owner ? ` (${held.owner.host} pid ${held.owner.pid})` : ''
          }`,
        );
      }
      continue;
    }
    if (!waited) {
      waited = true;
      await log?.(
        `${tempPath} is being written by another process${
          held.owner ? ` (${held.owner.host} pid ${held.owner.pid})` : ''
        }; waiting for it`,
      );
    }
    await sleep(LOCK_POLL_MS, undefined, { signal });
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => {});
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  return {
    waited,
    release: async () => {
      clearInterval(heartbeat);
      const held = await readLock(lockPath).catch(() => undefined);
      if (held?.owner?.token === owner.token) {
        await fs.rm(lockPath, { force: true }).catch(() => {});
      }
    },
  };
}
