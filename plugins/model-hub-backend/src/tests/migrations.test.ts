import { TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const TABLES = [
  'models',
  'model_tags',
  'model_versions',
  'blobs',
  'version_files',
  'jobs',
  'job_logs',
  'version_reviews',
  'audit_events',
];

describe.each(databases.eachSupportedId())('migrations (%s)', id => {
  it('migrates up and down, keeping data shape', async () => {
    const knex = await databases.init(id);
    const directory = DatabaseModelHubStore.migrationsDirectory;

    await knex.migrate.up({ directory, name: '20260101000000_init.js' });
    for (const table of TABLES) {
      await expect(knex.schema.hasTable(table)).resolves.toBe(true);
    }
    const now = new Date();
    await knex('models').insert({
      id: 'm1',
      entity_ref: 'model:default/m',
      namespace: 'default',
      name: 'm',
      type: 'llm',
      lifecycle: 'production',
      owner: 'group:default/a',
      source_type: 'upload',
      search_text: 'm',
      created_by: 'user:default/a',
      created_at: now,
      updated_at: now,
    });
    await knex('model_versions').insert({
      id: 'v1',
      model_id: 'm1',
      label: '1.0.0',
      state: 'draft',
      source_type: 'upload',
      created_by: 'user:default/a',
      created_at: now,
      updated_at: now,
    });
    await expect(knex('model_versions').first()).resolves.toMatchObject({
      revision: 0,
      state: 'draft',
    });
    await expect(knex('models').first()).resolves.toMatchObject({ tags: '[]' });

    // unique (model, label)
    let duplicateError: unknown;
    try {
      await knex('model_versions').insert({
        id: 'v2',
        model_id: 'm1',
        label: '1.0.0',
        state: 'draft',
        source_type: 'upload',
        created_by: 'user:default/a',
        created_at: now,
        updated_at: now,
      });
    } catch (error) {
      duplicateError = error;
    }
    expect(String(duplicateError)).toMatch(/unique|UNIQUE/);

    // versions go with their model
    await knex('models').where({ id: 'm1' }).delete();
    await expect(knex('model_versions').count({ c: '*' })).resolves.toEqual([
      { c: expect.anything() },
    ]);
    expect(Number((await knex('model_versions').count({ c: '*' }))[0].c)).toBe(
      0,
    );

    await knex.migrate.down({ directory });
    for (const table of TABLES) {
      await expect(knex.schema.hasTable(table)).resolves.toBe(false);
    }
    await knex.migrate.latest({ directory });
    await expect(knex.schema.hasTable('models')).resolves.toBe(true);
  });
});
