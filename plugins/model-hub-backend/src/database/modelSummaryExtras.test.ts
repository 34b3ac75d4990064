import { randomUUID } from 'node:crypto';
import { mockServices, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import { DatabaseModelHubStore } from './DatabaseModelHubStore';
import { VersionState } from './types';

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())(
  'models list: active version, worst state, namespace (%s)',
  id => {
    async function setup() {
      const knex = await databases.init(id);
      const store = await DatabaseModelHubStore.create({
        database: mockServices.database({ knex, migrations: { skip: false } }),
      });
      return { knex, store };
    }

    async function model(
      store: DatabaseModelHubStore,
      namespace: string,
      name: string,
    ) {
      return store.createModel({
        namespace,
        name,
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/team',
        sourceType: 'upload',
        tags: [],
        createdBy: 'user:default/alice',
      });
    }

    let clock = Date.parse('2026-12-01T00:00:00Z');
    async function version(
      knex: Knex,
      store: DatabaseModelHubStore,
      modelId: string,
      label: string,
      state: VersionState,
    ) {
      const v = await store.createVersion({
        modelId,
        label,
        sourceType: 'upload',
        createdBy: 'user:default/alice',
      });
      clock += 60_000;
      await knex('model_versions')
        .where({ id: v.id })
        .update({ state, created_at: new Date(clock) });
      return v;
    }

    async function check(
      knex: Knex,
      versionId: string,
      name: string,
      status: string,
    ) {
      const now = new Date();
      await knex('version_checks').insert({
        id: randomUUID(),
        version_id: versionId,
        name,
        status,
        required: true,
        created_at: now,
        updated_at: now,
      });
    }

    it('gives each model its active version and the version needing most attention', async () => {
      const { knex, store } = await setup();
      // a: approved v1 active, v2 in review with a failed check, v3 draft
      const a = await model(store, 'default', 'a');
      const a1 = await version(knex, store, a.id, 'v1', 'approved');
      const a2 = await version(knex, store, a.id, 'v2', 'in_review');
      await version(knex, store, a.id, 'v3', 'changes_requested');
      await check(knex, a2.id, 'model-hub.safety', 'failed');
      await check(knex, a2.id, 'model-hub.format', 'passed');
      await knex('model_active_versions').insert({
        model_id: a.id,
        version_id: a1.id,
        promoted_by: 'user:default/alice',
        promoted_at: new Date('2026-12-01T10:00:00Z'),
      });
      // b: changes requested beats in review and draft; rejected and
      // archived never count
      const b = await model(store, 'default', 'b');
      await version(knex, store, b.id, 'v1', 'draft');
      await version(knex, store, b.id, 'v2', 'changes_requested');
      await version(knex, store, b.id, 'v3', 'in_review');
      const b4 = await version(knex, store, b.id, 'v4', 'rejected');
      await check(knex, b4.id, 'model-hub.safety', 'failed');
      await version(knex, store, b.id, 'v5', 'archived');
      // c: a waived failed check does not count; of two drafts the newest
      const c = await model(store, 'research', 'c');
      const c1 = await version(knex, store, c.id, 'd1', 'draft');
      await check(knex, c1.id, 'model-hub.safety', 'error');
      await knex('check_waivers').insert({
        id: randomUUID(),
        version_id: c1.id,
        check_name: 'model-hub.safety',
        reason: 'known',
        waived_by: 'user:default/dana',
        created_at: new Date(),
        content_digest: null,
      });
      await version(knex, store, c.id, 'd2', 'draft');
      // d: nothing
      await model(store, 'Research', 'd');

      const { items } = await store.listModels({ offset: 0, limit: 10 });
      const by = new Map(items.map(i => [i.name, i]));
      expect(by.get('a')).toMatchObject({
        activeVersion: {
          versionId: a1.id,
          label: 'v1',
          state: 'approved',
          promotedBy: 'user:default/alice',
          promotedAt: '2026-12-01T10:00:00.000Z',
        },
        worstState: {
          label: 'v2',
          state: 'in_review',
          failedChecks: ['model-hub.safety'],
        },
      });
      expect(by.get('b')).toMatchObject({
        activeVersion: null,
        worstState: {
          label: 'v2',
          state: 'changes_requested',
          failedChecks: [],
        },
      });
      expect(by.get('c')).toMatchObject({
        activeVersion: null,
        worstState: { label: 'd2', state: 'draft', failedChecks: [] },
      });
      expect(by.get('d')).toMatchObject({
        activeVersion: null,
        worstState: null,
      });
    });

    it('filters by namespace, case-insensitive, with the other filters and pages', async () => {
      const { store } = await setup();
      for (const [ns, name] of [
        ['default', 'x'],
        ['Research', 'y'],
        ['research', 'z'],
        ['vision', 'w'],
      ]) {
        await model(store, ns, name);
      }
      const research = await store.listModels({
        offset: 0,
        limit: 10,
        filter: { namespace: ['RESEARCH'] },
      });
      expect(research.totalCount).toBe(2);
      expect(research.items.map(i => i.name).sort()).toEqual(['y', 'z']);
      const two = await store.listModels({
        offset: 1,
        limit: 1,
        filter: { namespace: ['default', 'vision'] },
      });
      expect(two.totalCount).toBe(2);
      expect(two.items.map(i => i.name)).toEqual(['x']);
    });
  },
);
