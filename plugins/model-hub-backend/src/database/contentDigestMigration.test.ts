import { promises as fs } from 'node:fs';
import { TestDatabases } from '@backstage/backend-test-utils';
import { contentDigest, EMPTY_CONTENT_DIGEST } from './contentDigest';
import { DatabaseModelHubStore } from './DatabaseModelHubStore';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const MIGRATION = '20260213000000_content_digests.js';

describe.each(databases.eachSupportedId())(
  'content digests migration (%s)',
  id => {
    it('gives existing versions their digest, approved ones as approved, and migrates down', async () => {
      const knex = await databases.init(id);
      const directory = DatabaseModelHubStore.migrationsDirectory;
      const before = (await fs.readdir(directory))
        .filter(name => name.endsWith('.js') && name < MIGRATION)
        .sort();
      for (const name of before) {
        await knex.migrate.up({ directory, name });
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
      const version = (versionId: string, state: string) => ({
        id: versionId,
        model_id: 'm1',
        label: versionId,
        state,
        source_type: 'upload',
        created_by: 'user:default/a',
        created_at: now,
        updated_at: now,
      });
      await knex('model_versions').insert([
        version('approved', 'approved'),
        version('draft', 'draft'),
        version('empty', 'deprecated'),
      ]);
      const files = [
        {
          path: 'b.bin',
          sha256: 'b'.repeat(64),
          size: 2,
          by: 'user:default/b',
        },
        {
          path: 'a.json',
          sha256: 'a'.repeat(64),
          size: 1,
          by: 'user:default/c',
        },
      ];
      for (const f of files) {
        await knex('blobs').insert({
          sha256: f.sha256,
          size: f.size,
          ref_count: 2,
          location: f.sha256,
          created_at: now,
          last_referenced_at: now,
        });
      }
      for (const v of ['approved', 'draft']) {
        for (const f of files) {
          await knex('version_files').insert({
            id: `${v}-${f.path}`,
            version_id: v,
            path: f.path,
            size: f.size,
            sha256: f.sha256,
            kind: 'other',
            created_by: f.by,
            created_at: now,
          });
        }
      }

      await knex.migrate.up({ directory, name: MIGRATION });
      const rows = await knex('model_versions')
        .orderBy('id')
        .select('id', 'content_digest', 'approved_digest');
      const digest = contentDigest(files);
      expect(rows).toEqual([
        { id: 'approved', content_digest: digest, approved_digest: digest },
        { id: 'draft', content_digest: digest, approved_digest: null },
        {
          id: 'empty',
          content_digest: EMPTY_CONTENT_DIGEST,
          approved_digest: EMPTY_CONTENT_DIGEST,
        },
      ]);
      expect(
        await knex('version_contributors')
          .orderBy(['version_id', 'principal'])
          .select('version_id', 'principal'),
      ).toEqual([
        { version_id: 'approved', principal: 'user:default/b' },
        { version_id: 'approved', principal: 'user:default/c' },
        { version_id: 'draft', principal: 'user:default/b' },
        { version_id: 'draft', principal: 'user:default/c' },
      ]);

      await knex.migrate.down({ directory, name: MIGRATION });
      await expect(knex.schema.hasTable('version_contributors')).resolves.toBe(
        false,
      );
      await expect(
        knex.schema.hasColumn('model_versions', 'content_digest'),
      ).resolves.toBe(false);
      expect(Number((await knex('version_files').count({ c: '*' }))[0].c)).toBe(
        4,
      );
    });
  },
);
