/* eslint-disable no-restricted-syntax */
// Child process of the crash test: ingests a large, slowly produced file
// through the local store and the SQLite store, reporting its progress on
// stdout, until the test kills it with SIGKILL.
import { Readable } from 'node:stream';
import Knex from 'knex';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { ingestFile } from '../../service/ingest';
import { LocalArtifactStore } from '../LocalArtifactStore';

const [storePath, dbFile, versionId, totalMiB] = process.argv.slice(2);

async function main() {
  const knex = Knex({
    client: 'better-sqlite3',
    connection: { filename: dbFile },
    useNullAsDefault: true,
  });
  const store = await DatabaseModelHubStore.create({
    database: { getClient: async () => knex, migrations: { skip: true } },
  });
  const artifacts = await LocalArtifactStore.create({ path: storePath });
  const chunk = Buffer.alloc(1024 * 1024, 7);
  async function* produce() {
    for (let i = 0; i < Number(totalMiB); i++) {
      yield chunk;
      process.stdout.write(`chunk ${i}\n`);
      await new Promise(r => setTimeout(r, 5));
    }
  }
  await ingestFile({
    store,
    artifacts,
    versionId,
    path: 'model.safetensors',
    kind: 'weights',
    content: Readable.from(produce()),
    createdBy: 'user:default/crash',
  });
  process.stdout.write('done\n');
  await knex.destroy();
}

main().catch(error => {
  process.stderr.write(`${error}\n`);
  process.exit(1);
});
