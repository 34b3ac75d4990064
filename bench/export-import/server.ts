/*
 * A portal of the export-import benchmark: a real Backstage backend
 * (`createBackend` from @backstage/backend-defaults) with the Model Hub
 * plugin on its own SQLite database and local store. Portal A seeds a model
 * whose approved (and active) version holds the benchmark file and signs
 * exports; portal B trusts A's key and imports. See README.md.
 *
 * Usage: node -r @backstage/cli/config/nodeTransform.cjs server.ts \
 *   <role a|b> <workdir> <port> <token> <key file> [<file to seed>]
 * (a: the private key PEM; b: the public key PEM of a)
 * Prints `READY` once it listens.
 */
/* eslint-disable no-console */
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
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

async function seed(dbDir: string, storeDir: string, file: string) {
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
    // approved as the workflow approves: bound to its content
    const now = new Date();
    await knex('model_versions')
      .where({ id: version.id })
      .update({
        state: 'approved',
        approved_digest: knex.ref('content_digest'),
        updated_at: now,
      });
    await knex('model_active_versions').insert({
      model_id: model.id,
      version_id: version.id,
      promoted_by: 'user:default/bench',
      promoted_at: now,
    });
  }
  await knex.destroy();
}

async function main() {
  const [role, workdir, port, token, keyFile, file] = process.argv.slice(2);
  const dbDir = join(workdir, 'db');
  const storeDir = join(workdir, 'store');
  mkdirSync(dbDir, { recursive: true });
  const key = readFileSync(keyFile, 'utf8');
  if (role === 'a') {
    await seed(dbDir, storeDir, file);
  }
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
            transfer:
              role === 'a'
                ? { portalName: 'bench-a', signingKey: key }
                : {
                    portalName: 'bench-b',
                    trustedKeys: [{ name: 'bench-a', publicKey: key }],
                    importedApprovals: 'trust',
                  },
          },
        }),
    }),
  );
  backend.add(import('../../plugins/model-hub-backend/src'));
  await backend.start();
  console.log('READY');
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
