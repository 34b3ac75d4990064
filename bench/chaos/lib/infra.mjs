// The shared parts of a chaos run: one PostgreSQL (a fresh database prefix
// per run, dropped after), one S3-compatible server (s3rver) and the mock
// Hugging Face Hub as its own process. Each backend instance gets a config
// overlay naming them.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { root } from '../../../scripts/env.mjs';

const require = createRequire(import.meta.url);
const pg = require('pg');
const S3rver = require('s3rver');

export const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
export const BUCKET = 'model-hub-chaos';
export const S3_CREDENTIALS = {
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
};

/** A pg client on one database (default: postgres). */
export async function pgClient(database = 'postgres') {
  const client = new pg.Client({ ...PG, database });
  await client.connect();
  return client;
}

/** Whether PostgreSQL answers a query at 127.0.0.1:5432 as postgres. */
export async function postgresAnswers() {
  try {
    const c = await pgClient();
    await c.query('select 1');
    await c.end();
    return true;
  } catch (e) {
    return e.message ?? String(e);
  }
}

/** Drops every database whose name starts with `prefix`. */
export async function dropDatabases(prefix) {
  const c = await pgClient();
  try {
    const { rows } = await c.query(
      'select datname from pg_database where datname like $1',
      [`${prefix.replace(/_/g, '\\_')}%`],
    );
    for (const { datname } of rows) {
      await c.query(`drop database if exists "${datname}" with (force)`);
    }
    return rows.map(r => r.datname);
  } finally {
    await c.end();
  }
}

/** s3rver on a folder, with the bucket created. */
export async function startS3(dir, port) {
  mkdirSync(dir, { recursive: true });
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET }],
  });
  const address = await server.run();
  return {
    url: `http://127.0.0.1:${address.port}`,
    dir,
    /** s3rver keeps parts of open multipart uploads here (per upload id). */
    multipartDir: path.join(dir, BUCKET, '._S3rver_uploads'),
    close: () => server.close(),
  };
}

/** The mock Hub as its own process; resolves with its URL. */
export function startMockHub(port, repos) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'packages/mock-hf-server/bin/mock-hf-server.js'),
        '--port',
        String(port),
        '--repos',
        String(repos),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`the mock Hub did not start: ${out}`)),
      120_000,
    );
    const onData = d => {
      out += d;
      const m = /MOCK_HF_URL=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, stop: () => child.kill('SIGTERM') });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`the mock Hub exited (${code}): ${out}`));
    });
  });
}

/**
 * The config overlay of one instance (on top of app-config.yaml): its port,
 * the proxy as its base URL, PostgreSQL with the run's prefix, the S3 store,
 * a shared uploads folder, the mock Hub; no demo seed and no bundled Hub.
 */
export function writeInstanceConfig(file, o) {
  const config = {
    backend: {
      baseUrl: o.publicUrl,
      listen: { port: o.port, host: '127.0.0.1' },
      database: {
        client: 'pg',
        prefix: o.dbPrefix,
        connection: { ...PG, password: '' },
        // the default pool of 10 per plugin, times ~15 plugins and 3
        // instances, is more than the server's 100 connections
        knexConfig: { pool: { min: 0, max: 4 } },
      },
    },
    catalog: {
      locations: [
        { type: 'file', target: path.join(root, 'examples/all.yaml') },
      ],
    },
    modelHub: {
      storage: {
        type: 's3',
        s3: {
          bucket: BUCKET,
          endpoint: o.s3Url,
          forcePathStyle: true,
          region: 'us-east-1',
          prefix: 'chaos/',
          checksums: 'when_required',
          spoolDir: path.join(o.workDir, `spool-${o.name}`),
          credentials: S3_CREDENTIALS,
        },
      },
      // one uploads folder shared by every instance (issue 17 point 1: any
      // instance serves any PATCH of an upload), with the upload lock the
      // uploads helper asks for in /work/notes/contracts.md: a SIGKILLed
      // holder loses it after 10 s
      uploads: {
        directory: path.join(o.workDir, 'uploads'),
        lock: {
          lease: { seconds: 10 },
          heartbeat: { seconds: 1 },
          acquireTimeout: { seconds: 30 },
        },
      },
      huggingface: {
        endpoint: o.hubUrl,
        downloadDir: path.join(o.workDir, `hf-downloads-${o.name}`),
        schedule: {
          frequency: { minutes: 30 },
          timeout: { minutes: 5 },
          initialDelay: { minutes: 30 },
        },
      },
      gc: { gracePeriod: { seconds: 1 } },
    },
    demo: { mockHuggingFaceHub: { enabled: false }, seed: { enabled: false } },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
