// Chaos harness (issue 17): several Model Hub backend instances on one
// PostgreSQL and one S3 server (s3rver) behind a round-robin TCP proxy, a
// workload of HF downloads, tus uploads, approval transitions and mirror
// downloads, while a random instance is killed with SIGKILL every 5-10 s and
// restarted; then the checks of acceptance 1. See README.md.
//
//   node bench/chaos/run.mjs [--profile full|short] [--instances 3] [--kills 20]
//                            [--record bench/chaos/results.md] [--keep]
//
// Exit status: 0 when every check passed (or PostgreSQL does not answer:
// skipped, saying so), 1 when a check failed or the run broke.
import { mkdirSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { root } from '../../scripts/env.mjs';
import {
  dropDatabases,
  pgClient,
  postgresAnswers,
  startMockHub,
  startS3,
  writeInstanceConfig,
} from './lib/infra.mjs';
import { Instance, chaosMonkey, stopAll } from './lib/instances.mjs';
import { startProxy } from './lib/proxy.mjs';
import { startS3Front } from './lib/s3front.mjs';
import { Api } from './lib/client.mjs';
import { registerRepos, waitForJobs } from './lib/downloads.mjs';
import { uploadsWorkload } from './lib/uploads.mjs';
import { approvalsWorkload, transition } from './lib/approvals.mjs';
import { mirrorWorkload } from './lib/mirror.mjs';
import {
  checkJobs,
  checkMultipart,
  checkStore,
  checkTransitions,
  checkUploads,
  checkVersions,
} from './lib/checks.mjs';
import { markdown } from './lib/report.mjs';

const MiB = 1024 * 1024;
/**
 * `modelHub.storage.s3.multipartStaleAfter` (its default, which the
 * instance config keeps): a killed instance's registered multipart upload
 * is aborted by a clean-up this long after its last heartbeat.
 */
const MULTIPART_STALE_AFTER_MS = 120_000;
const PROFILES = {
  full: {
    instances: 3,
    kills: 20,
    repos: 30,
    uploads: 10,
    uploadMiB: 256,
    chunkMiB: 32,
    transitions: 200,
    models: 8,
    mirrorUploads: 3,
    awaitRestarts: true,
  },
  // uploads long enough that the kills fall into the workload
  short: {
    instances: 3,
    kills: 3,
    repos: 4,
    uploads: 3,
    uploadMiB: 32,
    chunkMiB: 4,
    transitions: 30,
    models: 3,
    mirrorUploads: 1,
  },
};

const { values: args } = parseArgs({
  options: {
    profile: { type: 'string', default: 'full' },
    instances: { type: 'string' },
    kills: { type: 'string' },
    uploads: { type: 'string' },
    'upload-mib': { type: 'string' },
    record: { type: 'string' },
    keep: { type: 'boolean' },
    'base-port': { type: 'string', default: '7350' },
  },
});
const profile = PROFILES[args.profile];
if (!profile)
  throw new Error(
    `--profile must be one of ${Object.keys(PROFILES).join(', ')}`,
  );
const P = {
  ...profile,
  ...(args.instances ? { instances: Number(args.instances) } : {}),
  ...(args.kills ? { kills: Number(args.kills) } : {}),
  ...(args.uploads ? { uploads: Number(args.uploads) } : {}),
  ...(args['upload-mib'] ? { uploadMiB: Number(args['upload-mib']) } : {}),
};
const basePort = Number(args['base-port']);
const log = (...a) =>
  console.log(`[chaos ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const elapsed = t0 => (Date.now() - t0) / 1000;

const pgState = await postgresAnswers();
if (pgState !== true) {
  console.log(
    `[chaos] SKIPPED: PostgreSQL does not answer on 127.0.0.1:5432 as postgres (${pgState}); the chaos run needs it`,
  );
  process.exit(0);
}

const runId = `${Date.now().toString(36)}`;
const dbPrefix = `chaos_${runId}_`;
const workDir = path.join(root, 'bench/.tmp/chaos', runId);
mkdirSync(path.join(workDir, 'files'), { recursive: true });
const run = {
  profile: args.profile,
  startedAt: new Date().toISOString(),
  command: `node bench/chaos/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  instances: P.instances,
  // the instances run the working tree: its commit, and whether it had edits
  tree: (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
        cwd: root,
        encoding: 'utf8',
      }).trim();
      const dirty = execFileSync(
        'git',
        ['status', '--porcelain', '--', 'plugins', 'packages'],
        { cwd: root, encoding: 'utf8' },
      ).trim();
      return `${head}${
        dirty ? ` + ${dirty.split('\n').length} uncommitted files` : ''
      }`;
    } catch {
      return 'unknown';
    }
  })(),
  loadBefore: os
    .loadavg()
    .map(l => l.toFixed(2))
    .join(' '),
  seconds: {},
  stats: { retries: 0, errors: {} },
  checks: [],
  kills: [],
};
const tStart = Date.now();
const cleanups = [];
let failed = false;

try {
  log(
    `run ${runId}: ${JSON.stringify(
      P,
    )}; work folder ${workDir}, databases ${dbPrefix}*`,
  );
  const s3 = await startS3(path.join(workDir, 's3'), basePort + 10);
  cleanups.push(() => s3.close());
  // the instances reach s3rver through a front that implements
  // AbortMultipartUpload (s3rver answers it 405), see lib/s3front.mjs
  const s3Front = await startS3Front(s3, basePort + 12);
  cleanups.unshift(() => s3Front.close());
  const hub = await startMockHub(basePort + 11, P.repos);
  cleanups.push(() => hub.stop());
  const instances = Array.from({ length: P.instances }, (_, i) => {
    const name = `i${i + 1}`;
    const port = basePort + 1 + i;
    const configFile = writeInstanceConfig(path.join(workDir, `${name}.json`), {
      name,
      port,
      publicUrl: `http://127.0.0.1:${basePort}`,
      dbPrefix,
      s3Url: s3Front.url,
      hubUrl: hub.url,
      workDir,
    });
    return new Instance({
      name,
      port,
      configFile,
      logFile: path.join(workDir, `${name}.log`),
    });
  });
  cleanups.push(() => stopAll(instances));
  const proxy = await startProxy(basePort, instances);
  cleanups.push(() => proxy.close());

  // the first instance alone runs the migrations, then the others
  const tBoot = Date.now();
  await instances[0].start();
  await Promise.all(instances.slice(1).map(i => i.start()));
  const api = new Api(proxy.url, run.stats);
  for (const user of ['alice', 'bob', 'carol', 'dana']) await api.token(user);
  run.seconds.startup = elapsed(tBoot);
  log(
    `${
      P.instances
    } instance(s) ready, the example users sign in (${run.seconds.startup.toFixed(
      0,
    )} s)`,
  );

  const db = await pgClient(`${dbPrefix}model-hub`);
  cleanups.unshift(() => db.end());
  const monkey =
    P.kills > 0 ? chaosMonkey(instances, { count: P.kills }) : undefined;
  if (monkey) cleanups.unshift(() => monkey.stop());

  const tWork = Date.now();
  const timed = async (name, fn) => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      run.seconds[name] = elapsed(t0);
      log(`${name} done (${run.seconds[name].toFixed(0)} s)`);
    }
  };
  const [registered, uploads, approvals] = await Promise.all([
    timed('register', () => registerRepos(api, P.repos)),
    timed('uploads', () =>
      uploadsWorkload(api, proxy, {
        runId,
        count: P.uploads,
        size: P.uploadMiB * MiB,
        chunkSize: P.chunkMiB * MiB,
        fileDir: path.join(workDir, 'files'),
      }),
    ),
    timed('approvals', () =>
      approvalsWorkload(api, {
        runId,
        models: P.models,
        transitions: P.transitions - 2 * P.uploads,
      }),
    ),
  ]);
  // the uploaded versions go through review too (their transitions count),
  // then the approved versions are downloaded through the mirror
  const tLog = approvals.log;
  for (const u of uploads.filter(x => x.ok)) {
    await transition(api, tLog, 'alice', u.model, u.label, 'submit');
    await transition(api, tLog, 'bob', u.model, u.label, 'approve');
  }
  const approvedSmall = approvals.versions.filter(
    v => v.finalState === 'approved',
  );
  const mirrorSet = [
    ...approvedSmall,
    ...uploads.filter(u => u.ok).slice(0, P.mirrorUploads),
  ];
  const mirrored = await timed('mirror', () =>
    mirrorWorkload(api, run.stats, mirrorSet),
  );
  log(`registrations: ${registered.map(r => r.status).join(',')}`);
  const drained = await timed('jobsDrained', () =>
    waitForJobs(db, 600_000, { minJobs: P.repos * 2 }),
  );
  if (monkey) {
    // the kills go on until all were done; the full run then waits for
    // every instance to come back, the short one for the jobs only (one
    // ready instance serves the checks; restarts take a minute here)
    await monkey.done;
    if (P.awaitRestarts) await monkey.restarted();
    run.kills = monkey.kills;
  }
  run.killsDone = run.kills.filter(k => k.instance).length;
  const tReady = Date.now();
  const up = () =>
    P.awaitRestarts
      ? instances.every(i => i.ready)
      : instances.some(i => i.ready);
  while (!up() && Date.now() - tReady < 240_000) await sleep(500);
  await waitForJobs(db, 300_000);
  run.seconds.workload = elapsed(tWork);

  const tChecks = Date.now();
  const { rows: jobCount } = await db.query(
    "select count(*)::int as n, extract(epoch from max(finished_at) - min(created_at))::float as s from jobs where type like 'huggingface-%'",
  );
  run.seconds.hfJobs = jobCount[0].s ?? 0;
  run.workload = {
    repos: P.repos,
    hfJobs: jobCount[0].n,
    uploads: P.uploads,
    uploadSize: P.uploadMiB * MiB,
    chunkSize: P.chunkMiB * MiB,
    uploadBytes: uploads.filter(u => u.ok).reduce((a, u) => a + u.size, 0),
    transitions: tLog.length,
    mirrorDownloads: mirrored.length,
    mirrorBytes: mirrored.reduce((a, m) => a + m.bytes, 0),
  };
  run.checks.push({
    name: 'every registration answered 202 (or 409 after a lost answer)',
    ok: registered.every(r => r.status === 202 || r.status === 409),
    detail: Object.entries(
      registered.reduce(
        (a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }),
        {},
      ),
    )
      .map(([k, v]) => `${k}: ${v}`)
      .join(', '),
  });
  run.checks.push({
    name: 'the jobs drained (none queued or running at the end)',
    ok: drained,
    detail: drained ? 'drained' : 'still open after 10 min',
  });
  run.checks.push(...(await checkJobs(db, { expectedRepos: P.repos })));
  run.checks.push(
    ...(await checkUploads(db, uploads, {
      instanceCount: P.instances,
      kills: P.kills,
    })),
  );
  run.checks.push({
    name: `every mirror download has the right SHA-256 (${mirrored.length})`,
    ok: mirrored.length > 0 && mirrored.every(m => m.ok),
    detail: `${mirrored.filter(m => m.ok).length} ok; ${mirrored
      .filter(m => !m.ok)
      .map(m => `${m.model}@${m.label} ${m.status}`)
      .slice(0, 5)
      .join(', ')}`,
  });
  run.checks.push(...(await checkVersions(db)));
  run.checks.push(...(await checkTransitions(db, tLog)));
  // the multipart uploads of killed instances are aborted by the clean-up
  // of the GC (POST /admin/gc, in checkStore) once their heartbeat is
  // stale: wait until the last kill is that old
  const lastKillMs = Math.max(
    0,
    ...run.kills.filter(k => k.instance).map(k => Date.parse(k.at)),
  );
  const staleAt = lastKillMs + MULTIPART_STALE_AFTER_MS + 5_000;
  if (staleAt > Date.now()) {
    log(
      `waiting ${((staleAt - Date.now()) / 1000).toFixed(
        0,
      )} s until the last kill's multipart uploads are stale, then the GC`,
    );
    await sleep(staleAt - Date.now());
  }
  run.checks.push(...(await checkStore(api)));
  run.checks.push(...(await checkMultipart(s3, db, s3Front.stats)));
  run.seconds.checks = elapsed(tChecks);
  run.proxy = proxy.stats;
  run.failedStarts = instances.reduce((a, i) => a + (i.failedStarts ?? 0), 0);
  run.startupMedianS = median(instances.flatMap(i => i.startTimesMs)) / 1000;
  writeFileSync(
    path.join(workDir, 'transitions.json'),
    JSON.stringify(tLog, null, 1),
  );
  writeFileSync(
    path.join(workDir, 'uploads.json'),
    JSON.stringify(uploads, null, 1),
  );
} catch (e) {
  failed = true;
  console.error(`[chaos] the run broke: ${e.stack ?? e}`);
  run.checks.push({
    name: 'the run completed',
    ok: false,
    detail: String(e.message ?? e),
  });
} finally {
  for (const c of cleanups) {
    try {
      await c();
    } catch (e) {
      console.error(`[chaos] clean-up: ${e.message}`);
    }
  }
  try {
    log(
      `dropped ${
        (await dropDatabases(dbPrefix)).length
      } databases ${dbPrefix}*`,
    );
  } catch (e) {
    console.error(`[chaos] dropping the databases: ${e.message}`);
  }
}

run.seconds.total = elapsed(tStart);
run.loadAfter = os
  .loadavg()
  .map(l => l.toFixed(2))
  .join(' ');
for (const c of run.checks)
  console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
let text = '';
try {
  text = markdown(run);
} catch (e) {
  text = `(no report: ${e.message})`;
}
console.log(text);
writeFileSync(
  path.join(root, 'bench/.tmp/chaos', `${runId}.json`),
  JSON.stringify(run, null, 1),
);
if (args.record) appendFileSync(args.record, `\n${text}\n`);
const bad = run.checks.filter(c => !c.ok);
if (!args.keep && !failed && !bad.length)
  rmSync(workDir, { recursive: true, force: true });
else log(`kept ${workDir} (instance logs, transitions.json, uploads.json)`);
console.log(
  `[chaos] ${run.checks.length - bad.length} checks passed, ${
    bad.length
  } failed (${run.seconds.total.toFixed(0)} s)`,
);
process.exit(bad.length ? 1 : 0);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}
