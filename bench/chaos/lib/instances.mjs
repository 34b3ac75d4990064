// Backend instances as child processes: packages/backend's src/index.ts
// (the demo backend, as `yarn start` builds it) through the Backstage CLI's
// node transform, each with its own config overlay and port; SIGKILL and
// restart for the chaos.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { root } from '../../../scripts/env.mjs';

const sleep = ms => new Promise(r => setTimeout(r, ms));

export class Instance {
  constructor({ name, port, configFile, logFile }) {
    this.name = name;
    this.port = port;
    this.configFile = configFile;
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.ready = false;
    this.child = undefined;
    this.starts = 0;
    this.kills = 0;
    this.startTimesMs = [];
  }

  /**
   * Starts the process and resolves once its readiness check answers. A
   * start that hangs (e.g. a plugin's startup failed: Backstage logs an
   * unhandled rejection and the process stays up, answering 503) is killed
   * and tried again, up to `tries` times.
   */
  async start(timeoutMs = 180_000, tries = 3) {
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) return undefined; // the run is over: no restart
      try {
        return await this.startOnce(timeoutMs);
      } catch (e) {
        this.failedStarts = (this.failedStarts ?? 0) + 1;
        this.log.write(`\n=== ${new Date().toISOString()} ${e.message}\n`);
        if (attempt >= tries || this.stopped) throw e;
        await this.kill('SIGKILL');
      }
    }
  }

  async startOnce(timeoutMs) {
    this.starts += 1;
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@backstage/cli/config/nodeTransform.cjs',
        'src/index.ts',
        '--config',
        path.join(root, 'app-config.yaml'),
        '--config',
        this.configFile,
      ],
      {
        cwd: path.join(root, 'packages/backend'),
        env: { ...process.env, NODE_ENV: 'development', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.log.write(`\n=== ${new Date().toISOString()} start #${this.starts}\n`);
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    const exited = new Promise(r => child.once('exit', r));
    child.once('exit', (code, signal) => {
      this.ready = false;
      this.log.write(
        `\n=== ${new Date().toISOString()} exit ${code ?? signal}\n`,
      );
    });
    while (Date.now() - t0 < timeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited during start-up`);
      }
      try {
        const res = await fetch(
          `http://127.0.0.1:${this.port}/.backstage/health/v1/readiness`,
        );
        if (res.ok && this.child === child) {
          this.ready = true;
          this.startTimesMs.push(Date.now() - t0);
          return;
        }
      } catch {
        // not listening yet
      }
      if (this.child !== child) return; // killed while starting
      await Promise.race([sleep(250), exited]);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms`);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    this.ready = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise(r => child.once('exit', r));
    child.kill(signal);
    await gone;
  }

  get running() {
    const c = this.child;
    return Boolean(c && c.exitCode === null && c.signalCode === null);
  }
}

/**
 * Kills a random ready instance with SIGKILL every 5-10 s and restarts it at
 * once, `count` times. Returns a promise of the kill log and a `stop()`.
 */
export function chaosMonkey(instances, { count, minMs = 5000, maxMs = 10000 }) {
  const kills = [];
  let stopped = false;
  const restarts = [];
  const done = (async () => {
    while (!stopped && kills.length < count) {
      await sleep(minMs + Math.random() * (maxMs - minMs));
      if (stopped) break;
      const ready = instances.filter(i => i.ready);
      // keep one instance serving when only one is up (else every
      // request of the workload would fail for a whole start-up)
      if (ready.length < (instances.length > 1 ? 2 : 1)) continue;
      const victim = ready[Math.floor(Math.random() * ready.length)];
      const at = new Date().toISOString();
      await victim.kill('SIGKILL');
      victim.kills += 1;
      kills.push({ at, instance: victim.name });
      restarts.push(
        victim.start().catch(e => {
          if (victim.stopped) return; // stopped at the end of the run
          kills.push({
            at: new Date().toISOString(),
            restartFailed: e.message,
          });
        }),
      );
    }
    return kills;
  })();
  return {
    /** Resolves once every restart so far is ready (or failed). */
    restarted: () => Promise.all(restarts),
    done,
    kills,
    stop: () => {
      stopped = true;
    },
  };
}

/** Stops every instance (SIGTERM, then SIGKILL after 10 s). */
export async function stopAll(instances) {
  await Promise.all(
    instances.map(async i => {
      i.stopped = true;
      if (!i.running) return;
      const c = i.child;
      const gone = new Promise(r => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
      i.ready = false;
    }),
  );
}
