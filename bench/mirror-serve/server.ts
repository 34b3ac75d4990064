/*
 * The server side of the mirror-serve benchmark: a real Backstage backend
 * (`createBackend` from @backstage/backend-defaults: root HTTP router with
 * compression, helmet, CORS, the auth barrier and rate limiter defaults)
 * with the Model Hub plugin, serving a model whose approved version holds
 * the benchmark file. See README.md.
 *
 * Usage: node -r @backstage/cli/config/nodeTransform.cjs server.ts <file> <workdir> <port> <token>
 * Prints `READY <blob path>` once it listens.
 */
/* eslint-disable no-console */
import { createReadStream, mkdirSync } from 'node:fs';
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
import { ingestFile } from '../../plugins/model-hub-backend/src/service/ingest';
import { LocalArtifactStore } from '../../plugins/model-hub-backend/src/store/LocalArtifactStore';

async function main() {
  const [file, workdir, port, token] = process.argv.slice(2);
  const dbDir = join(workdir, 'db');
  const storeDir = join(workdir, 'store');
  mkdirSync(dbDir, { recursive: true });

  // seed: a model with one approved version holding the file
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: join(dbDir, 'model-hub.sqlite') },
    useNullAsDefault: true,
  });
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts = await LocalArtifactStore.create({ path: storeDir });
  let model = await store.getModel({ entityRef: 'model:bench/big' });
  if (!model) {
    model = await store.createModel({
      namespace: 'bench',
      name: 'big',
      type: 'llm',
      lifecycle: 'production',
      owner: 'group:default/bench',
      sourceType: 'upload',
      tags: [],
      createdBy: 'user:default/bench',
    });
    const version = await store.createVersion({
      modelId: model.id,
      label: 'v1',
      sourceType: 'upload',
      createdBy: 'user:default/bench',
    });
    await ingestFile({
      store,
      artifacts,
      versionId: version.id,
      path: 'model.safetensors',
      kind: 'weights',
      content: createReadStream(file, { highWaterMark: 1024 * 1024 }),
      createdBy: 'user:default/bench',
    });
    await knex('model_versions')
      .where({ id: version.id })
      .update({ state: 'approved', updated_at: new Date() });
  }
  const version = await store.getVersion({ modelId: model.id, label: 'v1' });
  const [f] = await store.listFiles({ versionId: version!.id });
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
          },
        }),
    }),
  );
  backend.add(import('../../plugins/model-hub-backend/src'));
  await backend.start();
  console.log(
    `READY ${join(storeDir, 'sha256', f.sha256.slice(0, 2), f.sha256)}`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
