/*
 * The server side of the mirror-coalesce benchmark (the mock Hub runs in
 * its own process, upstream.ts, at BENCH_UPSTREAM_URL):
 *
 * - the Model Hub database seeded through the real sync (register, metadata
 *   sync, the version approved as the approvals workflow does), with
 *   `modelHub.huggingface.fetch: on-demand`, so no byte of the file is in
 *   the store;
 * - a real Backstage backend (`createBackend`) with the Model Hub plugin,
 *   whose mirror fetches the file when a client asks for it;
 *
 * Usage: node -r @backstage/cli/config/nodeTransform.cjs server.ts <workdir> <port> <token>
 * Prints `READY <json>` once everything listens.
 */
/* eslint-disable no-console */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { createBackend } from '@backstage/backend-defaults';
import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../plugins/model-hub-backend/src/database/DatabaseModelHubStore';
import { JobQueue } from '../../plugins/model-hub-backend/src/jobs/JobQueue';
import { HuggingFaceClient } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceClient';
import { HuggingFaceStore } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceStore';
import { HuggingFaceSync } from '../../plugins/model-hub-backend/src/huggingface/HuggingFaceSync';
import { readHuggingFaceConfig } from '../../plugins/model-hub-backend/src/huggingface/config';

const REPO = 'acme/big-model';
const FILE = 'model.safetensors';

/** A logger for the seeding sync (outside jest: no mocks). */
const silentLogger: any = {
  info: () => {},
  warn: console.warn,
  error: console.error,
  debug: () => {},
  child: () => silentLogger,
};

async function main() {
  const [workdir, port, token] = process.argv.slice(2);
  const upstreamUrl = process.env.BENCH_UPSTREAM_URL!;
  const dbDir = join(workdir, 'db');
  const storeDir = join(workdir, 'store');
  const downloadDir = join(workdir, 'hf-downloads');
  mkdirSync(dbDir, { recursive: true });

  const hfSettings = {
    endpoint: upstreamUrl,
    fetch: 'on-demand',
    downloadDir,
    // the scheduled sync stays out of the measurement
    schedule: {
      frequency: { hours: 24 },
      timeout: { minutes: 30 },
      initialDelay: { hours: 1 },
    },
  };

  // seed through the real sync: register, sync the metadata, approve
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(dbDir, 'model-hub.sqlite') },
    useNullAsDefault: true,
  });
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const hfStore = new HuggingFaceStore(knex);
  const config = new ConfigReader({ modelHub: { huggingface: hfSettings } });
  const sync = new HuggingFaceSync({
    client: new HuggingFaceClient({ endpoint: upstreamUrl }),
    hfStore,
    store,
    queue: new JobQueue(knex, 'bench-seed'),
    config: readHuggingFaceConfig(config),
    logger: silentLogger,
  });
  let versionId: string;
  if (!(await hfStore.getRepo({ repoId: REPO }))) {
    await sync.register({
      repoId: REPO,
      revision: 'main',
      owner: 'group:default/bench',
      createdBy: 'user:default/bench',
    });
  }
  ({ versionId } = await sync.syncRepo({ repoId: REPO }));
  await knex('model_versions')
    .where({ id: versionId })
    .update({
      state: 'approved',
      approved_digest: knex.ref('content_digest'),
      updated_at: new Date(),
    });
  // the seed's queued sync job is not needed: the backend would only repeat it
  await knex('jobs').where({ state: 'queued' }).delete();
  const files = await store.listFiles({ versionId });
  if (files.length) {
    throw new Error(`the store already holds ${files.length} files`);
  }
  await knex.destroy();

  const backend = createBackend();
  backend.add(
    createServiceFactory({
      service: coreServices.rootConfig,
      deps: {},
      factory: () =>
        new ConfigReader({
          backend: {
            baseUrl: `http://127.0.0.1:${port}`,
            listen: { port: Number(port), host: '127.0.0.1' },
            database: {
              client: 'better-sqlite3',
              connection: { directory: dbDir },
            },
            auth: {
              externalAccess: [
                { type: 'static', options: { token, subject: 'bench' } },
              ],
            },
          },
          modelHub: {
            storage: { type: 'local', local: { path: storeDir } },
            huggingface: hfSettings,
          },
        }),
    }),
  );
  backend.add(import('../../plugins/model-hub-backend/src'));
  await backend.start();

  console.log(
    `READY ${JSON.stringify({
      url: `http://127.0.0.1:${port}/api/model-hub/hf/${REPO}/resolve/main/${FILE}`,
    })}`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
