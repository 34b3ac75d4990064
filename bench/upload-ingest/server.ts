/*
 * The Model Hub upload routes on a real SQLite database and local store,
 * for the upload-ingest benchmark (run.mjs starts it). Mock auth (one user),
 * allow-all permissions, stubs instead of Backstage's test utilities (so
 * the process holds only what a backend holds for these routes). run.mjs
 * bundles it with esbuild and runs the bundle with plain node. Prints
 * `READY <port>` when listening.
 */
/* eslint-disable no-console */
import { join, resolve } from 'node:path';
import { promises as fs } from 'node:fs';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { createRouter } from '../../plugins/model-hub-backend/src/service/router';
import { LocalArtifactStore } from '../../plugins/model-hub-backend/src/store/LocalArtifactStore';
import { readUploadsConfig } from '../../plugins/model-hub-backend/src/uploads/config';
import { createUploadRoutes } from '../../plugins/model-hub-backend/src/uploads/routes';
import { ConfigReader } from '@backstage/config';

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
  const artifacts = await LocalArtifactStore.create({
    path: join(work, 'server', 'store'),
  });
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
    localStorePath: join(work, 'server', 'store'),
  });
  const credentials = {
    $$type: '@backstage/BackstageCredentials',
    principal: { type: 'user', userEntityRef: 'user:default/bench' },
  };
  const router = await createRouter({
    store,
    artifacts,
    auth: {
      isPrincipal: (c: any, type: string) =>
        type === 'unknown' || c.principal.type === type,
    } as any,
    httpAuth: { credentials: async () => credentials } as any,
    userInfo: {
      getUserInfo: async (c: any) => ({
        userEntityRef: c.principal.userEntityRef,
        ownershipEntityRefs: [c.principal.userEntityRef],
      }),
    },
    permissions: {
      authorize: async (requests: any[]) =>
        requests.map(() => ({ result: AuthorizeResult.ALLOW })),
      authorizeConditional: async (requests: any[]) =>
        requests.map(() => ({ result: AuthorizeResult.ALLOW })),
    } as any,
    auditor: {
      createEvent: async () => ({
        success: async () => {},
        fail: async () => {},
      }),
    } as any,
    catalog: {
      getEntityByRef: async () => undefined,
      getEntitiesByRefs: async () => ({ items: [] }),
      getEntities: async () => ({ items: [] }),
    } as any,
    logger: quietLogger as any,
    maxUploadBytes: maxFileBytes,
    gcGracePeriodMs: 0,
    extensions: [uploads.routes],
  });
  const app = express().use('/api/model-hub', router);
  app.use((err: Error, _req: any, res: any, _next: any) => {
    res.status(500).json({ error: { message: err.message } });
  });
  const server = app.listen(0, '127.0.0.1', async () => {
    const { port } = server.address() as { port: number };
    const base = `http://127.0.0.1:${port}/api/model-hub`;
    const post = (path: string, body: object) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const [path, body] of [
      ['/models', { name: 'bench', type: 'llm', owner: 'user:default/bench' }],
      ['/models/default/bench/versions', { label: 'v1' }],
    ] as const) {
      const res = await post(path, body);
      if (res.status !== 201) {
        throw new Error(`seeding ${path}: ${res.status} ${await res.text()}`);
      }
    }
    console.log(`READY ${port}`);
  });
}

process.on('SIGTERM', () => process.exit(0));

main().catch(error => {
  console.error(error);
  process.exit(1);
});
