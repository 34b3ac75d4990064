import { TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('uploads migration (%s)', id => {
  it('migrates up and down symmetrically', async () => {
    const knex = await databases.init(id);
    const directory = DatabaseModelHubStore.migrationsDirectory;
    await knex.migrate.up({ directory, name: '20260101000000_init.js' });
    await knex.migrate.up({ directory, name: '20260201000000_approvals.js' });
    await knex.migrate.up({ directory, name: '20260202000000_uploads.js' });
    await expect(knex.schema.hasTable('upload_sessions')).resolves.toBe(true);
    await expect(
      knex.schema.hasColumn('version_checks', 'details'),
    ).resolves.toBe(true);

    await knex.migrate.down({ directory, name: '20260202000000_uploads.js' });
    await expect(knex.schema.hasTable('upload_sessions')).resolves.toBe(false);
    await expect(
      knex.schema.hasColumn('version_checks', 'details'),
    ).resolves.toBe(false);
    await expect(knex.schema.hasTable('version_checks')).resolves.toBe(true);

    await knex.migrate.up({ directory, name: '20260202000000_uploads.js' });
    await expect(knex.schema.hasTable('upload_sessions')).resolves.toBe(true);
  });
});
