/*
 * The Model Hub upload routes (tus, multipart, packages) on a real SQLite
 * database and local store, for the upload-ingest benchmark (run.mjs
 * bundles it with esbuild and runs it with plain node). Only the upload
 * routes are mounted, with stub auth (one user) and allow-all permissions,
 * so that the process holds what serving uploads needs; a full backend
 * holds much more, whatever it serves. Prints `READY <port>` when listening.
 *
 * POST /bench/reset removes the files of the version and collects the
 * garbage (so every run writes a new blob).
 */
/* eslint-disable no-console */
import { isMainThread } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { promises as fs } from 'node:fs';
import { ConfigReader } from '@backstage/config';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import PromiseRouter from 'express-promise-router';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { RouteContext } from '../../plugins/model-hub-backend/src/service/context';
import { collectGarbage } from '../../plugins/model-hub-backend/src/service/ingest';
import { LocalArtifactStore } from '../../plugins/model-hub-backend/src/store/LocalArtifactStore';
import { readUploadsConfig } from '../../plugins/model-hub-backend/src/uploads/config';
import { createUploadRoutes } from '../../plugins/model-hub-backend/src/uploads/routes';
import { setInspectionWorkerEntry } from '../../plugins/model-hub-backend/src/inspection/InspectionPool';

const quietLogger = {
  debug() {},
  info() {},
  warn(message: string) {
    console.error(message);
  },
  error(message: string) {
    console.error(message);
  },
  child() {
    return quietLogger;
  },
};

async function main() {
  // exit normally on SIGTERM (so that --cpu-prof and the like write out)
  process.once('SIGTERM', () => process.exit(0));
  if (process.env.BENCH_MEMLOG) {
    setInterval(() => {
      const m = process.memoryUsage();
      console.error(
        `MEM rss ${(m.rss / 2 ** 20).toFixed(0)} heapTotal ${(
          m.heapTotal /
          2 ** 20
        ).toFixed(0)} heapUsed ${(m.heapUsed / 2 ** 20).toFixed(0)} external ${(
          m.external /
          2 ** 20
        ).toFixed(0)} arrayBuffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)}`,
      );
    }, 250).unref();
  }
  if (process.env.BENCH_INSPECTION_ENTRY !== 'bundle') {
    // built next to this bundle by run.mjs (a worker loads only it)
    setInspectionWorkerEntry(
      join(__dirname, 'upload-ingest-inspection-worker.cjs'),
    );
  }
  const work = resolve(process.env.BENCH_WORK ?? 'bench/.tmp/upload-ingest');
  await fs.rm(join(work, 'server'), { recursive: true, force: true });
  await fs.mkdir(join(work, 'server'), { recursive: true });
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(work, 'server', 'hub.sqlite') },
    useNullAsDefault: true,
  });
  const store = await DatabaseModelHubStore.create({
    database: { getClient: async () => knex } as any,
  });
  const storePath = join(work, 'server', 'store');
  const artifacts = await LocalArtifactStore.create({ path: storePath });
  const maxFileBytes = 100 * 1024 ** 3;
  const config = readUploadsConfig(
    new ConfigReader({
      modelHub: { uploads: { directory: join(work, 'server', 'uploads') } },
    }),
    { maxFileBytes },
  );
  const uploads = await createUploadRoutes({
    db: knex,
    config,
    localStorePath: storePath,
  });
  const credentials = {
    $$type: '@backstage/BackstageCredentials',
    principal: { type: 'user', userEntityRef: 'user:default/bench' },
  };
  const allow = async (requests: any[]) =>
    requests.map(() => ({ result: AuthorizeResult.ALLOW }));
  const ctx = new RouteContext({
    store,
    artifacts,
    auth: {} as any,
    httpAuth: { credentials: async () => credentials } as any,
    userInfo: {} as any,
    permissions: { authorize: allow, authorizeConditional: allow } as any,
    auditor: {
      createEvent: async () => ({
        success: async () => {},
        fail: async () => {},
      }),
    } as any,
    catalog: {} as any,
    logger: quietLogger as any,
    maxUploadBytes: maxFileBytes,
    gcGracePeriodMs: 0,
  });
  const router = PromiseRouter();
  uploads.routes(router, ctx);

  const model = await store.createModel({
    namespace: 'default',
    name: 'bench',
    type: 'llm',
    lifecycle: 'experimental',
    owner: 'user:default/bench',
    sourceType: 'upload',
    tags: [],
    createdBy: 'user:default/bench',
  } as any);
  const version = await store.createVersion({
    modelId: model.id,
    label: 'v1',
    sourceType: 'upload',
    createdBy: 'user:default/bench',
  });
  router.post('/bench/reset', async (_req, res) => {
    for (const file of await store.listFiles({ versionId: version.id })) {
      await store.removeFile({ versionId: version.id, path: file.path });
    }
    await new Promise(r => setTimeout(r, 5));
    res.json(await collectGarbage({ store, artifacts, gracePeriodMs: 0 }));
  });

  const app = express().use('/api/model-hub', router);
  app.use((err: Error, _req: any, res: any, _next: any) => {
    res.status(500).json({ error: { message: err.message } });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    server.keepAliveTimeout = 120_000;
    const { port } = server.address() as { port: number };
    console.log(`READY ${port}`);
  });
}

// With BENCH_INSPECTION_ENTRY=bundle the bundle is also the inspection
// workers' entry (`__filename` of the inspection worker module is this
// bundle): only the main thread serves.
if (isMainThread) {
  process.on('SIGTERM', () => process.exit(0));

  main().catch(error => {
    console.error(error);
    process.exit(1);
  });
}
