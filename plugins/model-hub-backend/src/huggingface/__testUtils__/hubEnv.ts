import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { JobQueue } from '../../jobs/JobQueue';
import { LocalArtifactStore } from '../../store/LocalArtifactStore';
import { HuggingFaceConfig } from '../config';
import { HuggingFaceClient } from '../HuggingFaceClient';
import { HuggingFaceStore } from '../HuggingFaceStore';
import { HuggingFaceSync } from '../HuggingFaceSync';

/** Test wiring of the Hugging Face sync on a real database and store. */
export async function createHubEnv(
  knex: Knex,
  options: {
    endpoint: string;
    token?: string;
    config?: Partial<HuggingFaceConfig>;
  },
) {
  const dir = mkdtempSync(join(tmpdir(), 'hf-env-'));
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts = await LocalArtifactStore.create({ path: join(dir, 'store') });
  const queue = new JobQueue(knex, 'test-worker');
  const client = new HuggingFaceClient({
    endpoint: options.endpoint,
    token: options.token,
    retry: { baseDelayMs: 10, maxDelayMs: 5000 },
  });
  const hfStore = new HuggingFaceStore(knex);
  const config: HuggingFaceConfig = {
    endpoint: options.endpoint,
    token: options.token,
    schedule: { frequency: { hours: 1 }, timeout: { minutes: 10 } },
    writeMode: 'direct',
    // one stream: the crash tests check its durable offsets
    parallelDownload: { connections: 1, minBytes: 64 * 1024 * 1024 },
    include: [],
    exclude: [],
    allowedOrganizations: [],
    downloadConcurrency: 2,
    fetchMode: 'on-demand',
    downloadDir: join(dir, 'downloads'),
    namespace: 'default',
    onDrift: 'review',
    ...options.config,
  };
  const sync = new HuggingFaceSync({
    client,
    hfStore,
    store,
    queue,
    config,
    logger: mockServices.logger.mock(),
  });
  return {
    dir,
    store,
    artifacts,
    queue,
    client,
    hfStore,
    sync,
    config,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
