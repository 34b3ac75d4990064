import { TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const NAME = '20260204000000_mirror_tokens.js';

describe.each(databases.eachSupportedId())('mirror migration (%s)', id => {
  it('migrates up and down symmetrically', async () => {
    const knex = await databases.init(id);
    const directory = DatabaseModelHubStore.migrationsDirectory;
    await knex.migrate.latest({ directory });
    expect(await knex.schema.hasTable('mirror_tokens')).toBe(true);
    expect(await knex.schema.hasTable('mirror_git_oids')).toBe(true);
    await knex('mirror_tokens').insert({
      id: 't1',
      user_entity_ref: 'user:default/a',
      name: 'n',
      token_prefix: 'hf_abcd',
      token_hash: 'a'.repeat(64),
      decision: '{"result":"ALLOW"}',
      decided_at: new Date(),
      created_at: new Date(),
    });
    const [{ n }] = await knex('mirror_tokens').count({ n: '*' });
    expect(Number(n)).toBe(1);

    await knex.migrate.down({ directory, name: NAME });
    expect(await knex.schema.hasTable('mirror_tokens')).toBe(false);
    expect(await knex.schema.hasTable('mirror_git_oids')).toBe(false);
    expect(await knex.schema.hasTable('model_versions')).toBe(true);
    await knex.migrate.up({ directory, name: NAME });
    expect(await knex.schema.hasTable('mirror_tokens')).toBe(true);
  });
});
