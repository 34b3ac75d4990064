/*
 * What the HF download benchmarks (run.ts, parallel.ts, ab/one.ts) share:
 * the mock Hub's big file and a Model Hub download of it into a folder
 * (SQLite, local store, partial downloads), and the clock and CPU counters
 * they measure it with.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { HuggingFaceClient } from '../../../plugins/model-hub-backend/src/huggingface/HuggingFaceClient';
import { downloadBlob } from '../../../plugins/model-hub-backend/src/jobs/downloadBlob';
import { PartialDownloadStore } from '../../../plugins/model-hub-backend/src/jobs/PartialDownloadStore';
import { LocalArtifactStore } from '../../../plugins/model-hub-backend/src/store/LocalArtifactStore';

const REPO = 'acme/big-model';
const FILE = 'model.safetensors';

/** The URL of the big file of the mock Hub at `mockUrl` (for curl). */
export function bigFileUrl(mockUrl: string) {
  return `${mockUrl}/${REPO}/resolve/main/${FILE}`;
}

/**
 * The big file of the mock Hub at `mockUrl`, and a Model Hub download stack
 * for it in `runDir` (created): a migrated SQLite database, the local store
 * in `store/`, partial downloads in `downloads/` (`dir`). `download` runs
 * `downloadBlob` into it.
 */
export async function openDownload(mockUrl: string, runDir: string) {
  const client = new HuggingFaceClient({ endpoint: mockUrl });
  const f = (await client.listFiles(REPO, 'main')).find(x => x.path === FILE)!;
  const file = {
    path: f.path,
    size: f.size,
    oid: f.oid,
    lfsSha256: f.lfs!.sha256,
  };
  mkdirSync(runDir, { recursive: true });
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(runDir, 'db.sqlite') },
    useNullAsDefault: true,
  });
  await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts = await LocalArtifactStore.create({
    path: join(runDir, 'store'),
  });
  const dir = join(runDir, 'downloads');
  return {
    file,
    knex,
    dir,
    download(
      options: Pick<
        Parameters<typeof downloadBlob>[0],
        'onBytes' | 'log' | 'parallel'
      > = {},
    ) {
      return downloadBlob({
        file,
        url: client.fileUrl(REPO, 'main', FILE),
        fetchRange: (headers, signal) =>
          client.streamFile(REPO, 'main', FILE, { headers, signal }),
        artifacts,
        partials: new PartialDownloadStore(knex),
        dir,
        signal: new AbortController().signal,
        ...options,
      });
    },
  };
}

/**
 * Starts a clock and this process's CPU counter: `elapsed()` is the wall
 * time so far, `stop()` also reads the CPU seconds (user, system and both).
 */
export function startClock() {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    elapsed,
    stop() {
      const secs = elapsed();
      const cpu = process.cpuUsage(cpu0);
      return {
        secs,
        cpuSecs: (cpu.user + cpu.system) / 1e6,
        user: cpu.user / 1e6,
        sys: cpu.system / 1e6,
      };
    },
  };
}

/**
 * CPU seconds (utime + stime, in clock ticks of 1/100 s) from a `stat`
 * file of /proc (a process's or a thread's); `children`: its waited-for
 * children's instead (cutime + cstime). NaN when it cannot be read (the
 * process or thread ended).
 */
export function cpuSecondsOf(statPath: string, children = false): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    // the fields after the command name start with the state (field 3):
    // utime is field 14, stime 15, cutime 16, cstime 17
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const at = children ? 13 : 11;
    return (Number(fields[at]) + Number(fields[at + 1])) / 100;
  } catch {
    return NaN;
  }
}
