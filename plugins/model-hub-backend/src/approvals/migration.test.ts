import { TestDatabases } from '@backstage/backend-test-utils';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const TABLES = [
  'version_submissions',
  'version_comments',
  'version_checks',
  'check_waivers',
  'model_active_versions',
  'model_active_version_history',
  'webhook_deliveries',
];

describe.each(databases.eachSupportedId())(
  'approvals migration (%s)',
  databaseId => {
    it('migrates up and down, keeping reviews', async () => {
      const knex = await databases.init(databaseId);
      const directory = DatabaseModelHubStore.migrationsDirectory;
      await knex.migrate.up({ directory, name: '20260101000000_init.js' });
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
        state: 'in_review',
        source_type: 'upload',
        created_by: 'user:default/a',
        created_at: now,
        updated_at: now,
      });
      await knex('version_reviews').insert({
        id: 'r1',
        version_id: 'v1',
        reviewer: 'user:default/b',
        decision: 'approve',
        created_at: now,
      });

      await knex.migrate.up({
        directory,
        name: '20260201000000_approvals.js',
      });
      for (const table of TABLES) {
        await expect(knex.schema.hasTable(table)).resolves.toBe(true);
      }
      // existing decisions belong to round 0
      expect(await knex('version_reviews').select('id', 'round')).toEqual([
        { id: 'r1', round: 0 },
      ]);
      await knex('model_active_versions').insert({
        model_id: 'm1',
        version_id: 'v1',
        promoted_by: 'user:default/a',
        promoted_at: now,
      });
      // one active version per model
      let duplicate: unknown;
      try {
        await knex('model_active_versions').insert({
          model_id: 'm1',
          version_id: 'v1',
          promoted_by: 'user:default/b',
          promoted_at: now,
        });
      } catch (error) {
        duplicate = error;
      }
      expect(String(duplicate)).toMatch(/unique|duplicate/i);
      await knex('check_waivers').insert({
        id: 'w1',
        version_id: 'v1',
        check_name: 'scan',
        reason: 'r',
        waived_by: 'user:default/c',
        created_at: now,
      });
      // versions take their approval rows with them
      await knex('model_versions').where({ id: 'v1' }).delete();
      expect(await knex('model_active_versions')).toEqual([]);
      expect(await knex('check_waivers')).toEqual([]);

      await knex.migrate.down({ directory });
      for (const table of TABLES) {
        await expect(knex.schema.hasTable(table)).resolves.toBe(false);
      }
      await expect(
        knex.schema.hasColumn('version_reviews', 'round'),
      ).resolves.toBe(false);
      await expect(knex.schema.hasTable('version_reviews')).resolves.toBe(true);
      await knex.migrate.latest({ directory });
      await expect(
        knex.schema.hasColumn('version_reviews', 'round'),
      ).resolves.toBe(true);
    });
  },
);
