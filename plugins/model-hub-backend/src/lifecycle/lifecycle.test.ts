import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabaseId,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import { Knex } from 'knex';
import request from 'supertest';
import { createApprovals } from '../approvals';
import { DatabaseModelHubStore } from '../database/DatabaseModelHubStore';
import { collectGarbage } from '../service/ingest';
import { createRouter } from '../tests/__testUtils__/router';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { ModelLifecycleStore } from './ModelLifecycleStore';
import { applyRetention, RETENTION_ACTOR } from './retention';

// Delete, edit and retention against SQLite and PostgreSQL, through the real
// router, store, approvals workflow and local artifact store: released blobs
// are removed by the garbage collection (checked in the store), shared
// blobs stay.

jest.setTimeout(60_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const ALICE = 'user:default/alice'; // ml-engineers: owns the models
const CAROL = 'user:default/carol'; // reads only
const DANA = 'user:default/dana'; // admin
const groups: Record<string, string[]> = {
  [ALICE]: ['group:default/ml-engineers'],
  [DANA]: ['group:default/ml-admins'],
};
const DAY = 86_400_000;

const sha256Of = (buf: Buffer) =>
  createHash('sha256').update(buf).digest('hex');

describe.each(databases.eachSupportedId())(
  'delete, edit, retention (%s)',
  id => {
    const dirs: string[] = [];
    afterAll(() =>
      dirs.forEach(d => rmSync(d, { recursive: true, force: true })),
    );

    async function setup(databaseId: TestDatabaseId) {
      const knex: Knex = await databases.init(databaseId);
      const database = mockServices.database({
        knex,
        migrations: { skip: false },
      });
      const store = await DatabaseModelHubStore.create({ database });
      const dir = mkdtempSync(join(tmpdir(), 'model-hub-lifecycle-'));
      dirs.push(dir);
      const artifacts = await LocalArtifactStore.create({ path: dir });
      const logger = mockServices.logger.mock();
      const approvals = await createApprovals({
        config: new ConfigReader({}),
        database,
        hubStore: store,
        logger,
      });
      const lifecycle = new ModelLifecycleStore(knex);
      // admins: dana; creating versions (owners): alice and dana
      const decide = jest.fn(async (requests: any[], options: any) => {
        const user = options.credentials.principal.userEntityRef;
        return requests.map(r => {
          const name = r.permission.name;
          let allowed = true;
          if (name === 'model-hub.admin') {
            allowed = user === DANA;
          } else if (name === 'model-hub.version.create') {
            allowed = user === ALICE || user === DANA;
          }
          return {
            result: allowed ? AuthorizeResult.ALLOW : AuthorizeResult.DENY,
          };
        });
      });
      const auditor = mockServices.auditor.mock();
      const router = await createRouter({
        store,
        artifacts,
        approvals,
        lifecycle,
        auth: mockServices.auth(),
        httpAuth: mockServices.httpAuth({
          defaultCredentials: mockCredentials.user(ALICE),
        }),
        userInfo: {
          getUserInfo: async (credentials: any) => ({
            userEntityRef: credentials.principal.userEntityRef,
            ownershipEntityRefs: [
              credentials.principal.userEntityRef,
              ...(groups[credentials.principal.userEntityRef] ?? []),
            ],
          }),
        },
        permissions: mockServices.permissions.mock({
          authorize: decide as any,
          authorizeConditional: decide as any,
        }),
        auditor,
        catalog: catalogServiceMock({ entities: [] }),
        logger,
        maxUploadBytes: 10_000,
        gcGracePeriodMs: 0,
      });
      const app = express().use(router).use(mockErrorHandler());
      const as = (user: string) => mockCredentials.user.header(user);

      const createModel = (name: string) =>
        request(app)
          .post('/models')
          .send({ name, type: 'llm', owner: 'group:default/ml-engineers' })
          .expect(201);
      const createVersion = (model: string, label: string) =>
        request(app)
          .post(`/models/default/${model}/versions`)
          .send({ label })
          .expect(201);
      const upload = (
        model: string,
        label: string,
        path: string,
        body: Buffer,
      ) =>
        request(app)
          .put(`/models/default/${model}/versions/${label}/files/${path}`)
          .set('Content-Type', 'application/octet-stream')
          .send(body)
          .expect(201);
      /** Fixture: a version in a state, changed at a time (as a transition would). */
      const setState = async (
        model: string,
        label: string,
        state: string,
        at = new Date(),
      ) => {
        const m = await store.getModel({ entityRef: `model:default/${model}` });
        await knex('model_versions')
          .where({ model_id: m!.id, label })
          .update({ state, updated_at: at });
      };
      const gc = () =>
        collectGarbage({
          store,
          artifacts,
          gracePeriodMs: 0,
          now: new Date(Date.now() + 1000),
        });
      const auditTrail = async () =>
        (
          await knex('audit_events')
            .orderBy('id')
            .select('event_id', 'actor', 'model_ref', 'version_label')
        ).map(r =>
          `${r.event_id} ${r.actor} ${r.model_ref ?? ''} ${
            r.version_label ?? ''
          }`.trim(),
        );
      return {
        app,
        knex,
        store,
        artifacts,
        approvals,
        lifecycle,
        auditor,
        logger,
        as,
        createModel,
        createVersion,
        upload,
        setState,
        gc,
        auditTrail,
      };
    }

    const shared = Buffer.from('shared weights');
    const onlyDraft = Buffer.from('only in the draft');
    const onlyApproved = Buffer.from('only in the approved version');

    it('owners delete drafts and rejected versions; the GC frees blobs no other file holds', async () => {
      const t = await setup(id);
      await t.createModel('llama');
      await t.createVersion('llama', 'v1');
      await t.upload('llama', 'v1', 'model.safetensors', shared);
      await t.upload('llama', 'v1', 'extra.bin', onlyApproved);
      await t.setState('llama', 'v1', 'approved');
      await t.createVersion('llama', 'v2');
      await t.upload('llama', 'v2', 'model.safetensors', shared);
      await t.upload('llama', 'v2', 'draft.bin', onlyDraft);

      // not the owner
      const denied = await request(t.app)
        .delete('/models/default/llama/versions/v2')
        .set('Authorization', t.as(CAROL))
        .expect(403);
      expect(denied.body.error.message).toContain('model-hub.version.create');
      // owners may not delete released versions
      const approved = await request(t.app)
        .delete('/models/default/llama/versions/v1')
        .expect(409);
      expect(approved.body.error.message).toBe(
        'Version v1 is approved; only draft and rejected versions can be deleted by their owners (administrators delete any)',
      );

      await request(t.app)
        .delete('/models/default/llama/versions/v2')
        .expect(204);
      await request(t.app).get('/models/default/llama/versions/v2').expect(404);
      await expect(
        t.store.getBlob({ sha256: sha256Of(onlyDraft) }),
      ).resolves.toMatchObject({
        refCount: 0,
      });
      await expect(
        t.store.getBlob({ sha256: sha256Of(shared) }),
      ).resolves.toMatchObject({
        refCount: 1,
      });
      expect(await t.artifacts.stat(sha256Of(onlyDraft))).toBeDefined();

      const collected = await t.gc();
      expect(collected.unreferenced).toBe(1);
      expect(await t.artifacts.stat(sha256Of(onlyDraft))).toBeUndefined();
      expect(await t.artifacts.stat(sha256Of(shared))).toBeDefined();
      await expect(
        t.store.getBlob({ sha256: sha256Of(onlyDraft) }),
      ).resolves.toBeUndefined();

      // a rejected version is the owner's to delete too
      await t.createVersion('llama', 'v3');
      await t.setState('llama', 'v3', 'rejected');
      await request(t.app)
        .delete('/models/default/llama/versions/v3')
        .expect(204);
      // admins delete any version
      await request(t.app)
        .delete('/models/default/llama/versions/v1')
        .set('Authorization', t.as(DANA))
        .expect(204);
      await t.gc();
      expect(await t.artifacts.stat(sha256Of(shared))).toBeUndefined();
      expect(await t.artifacts.stat(sha256Of(onlyApproved))).toBeUndefined();
      const stats = await request(t.app).get('/stats').expect(200);
      expect(stats.body.storage).toEqual({
        blobs: 0,
        bytes: 0,
        unreferencedBlobs: 0,
      });

      expect(await t.auditTrail()).toEqual(
        expect.arrayContaining([
          `version-delete ${ALICE} model:default/llama v2`,
          `version-delete ${ALICE} model:default/llama v3`,
          `version-delete ${DANA} model:default/llama v1`,
        ]),
      );
    });

    it('admins delete models with their versions and files; catalog models only once orphaned', async () => {
      const t = await setup(id);
      await t.createModel('gone');
      await t.createVersion('gone', 'v1');
      await t.upload('gone', 'v1', 'a.bin', onlyDraft);
      await t.createVersion('gone', 'v2');
      await t.upload('gone', 'v2', 'a.bin', onlyDraft);
      await t.upload('gone', 'v2', 'b.bin', shared);
      await t.createModel('kept');
      await t.createVersion('kept', 'v1');
      await t.upload('kept', 'v1', 'b.bin', shared);

      const denied = await request(t.app)
        .delete('/models/default/gone')
        .expect(403);
      expect(denied.body.error.message).toContain('model-hub.admin');
      await request(t.app)
        .delete('/models/default/gone')
        .set('Authorization', t.as(DANA))
        .expect(204);
      await request(t.app).get('/models/default/gone').expect(404);
      // only the other model's version and file are left
      expect(
        Number((await t.knex('model_versions').count({ n: '*' }).first())?.n),
      ).toBe(1);
      expect(
        Number((await t.knex('version_files').count({ n: '*' }).first())?.n),
      ).toBe(1);
      await expect(
        t
          .knex('model_tombstones')
          .where({ entity_ref: 'model:default/gone' })
          .first(),
      ).resolves.toBeDefined();
      await t.gc();
      expect(await t.artifacts.stat(sha256Of(onlyDraft))).toBeUndefined();
      expect(await t.artifacts.stat(sha256Of(shared))).toBeDefined();
      await expect(
        t.store.getBlob({ sha256: sha256Of(shared) }),
      ).resolves.toMatchObject({
        refCount: 1,
      });

      // a model defined in the catalog comes back unless the catalog drops it
      await t.store.createModel({
        namespace: 'default',
        name: 'from-yaml',
        type: 'llm',
        lifecycle: 'production',
        owner: 'group:default/ml-engineers',
        sourceType: 'upload',
        tags: [],
        createdBy: 'catalog',
      });
      const inCatalog = await request(t.app)
        .delete('/models/default/from-yaml')
        .set('Authorization', t.as(DANA))
        .expect(409);
      expect(inCatalog.body.error.message).toContain(
        'remove it from the catalog first',
      );
      await t.createVersion('from-yaml', 'v0');
      await t.upload('from-yaml', 'v0', 'a.bin', onlyDraft);
      await t
        .knex('models')
        .where({ entity_ref: 'model:default/from-yaml' })
        .update({
          orphaned_at: new Date(),
        });
      // orphaned: visible, read-only for its owners
      await request(t.app).get('/models/default/from-yaml').expect(200);
      const readOnly = await request(t.app)
        .post('/models/default/from-yaml/versions')
        .send({ label: 'v1' })
        .expect(409);
      expect(readOnly.body.error.message).toBe(
        'Model model:default/from-yaml was removed from the catalog and is read-only; an administrator may delete it',
      );
      await request(t.app)
        .put('/models/default/from-yaml/versions/v0/files/b.bin')
        .set('Content-Type', 'application/octet-stream')
        .send(shared)
        .expect(409);
      await request(t.app)
        .post('/models/default/from-yaml/versions/v0/transitions')
        .send({ action: 'submit' })
        .expect(409);
      await request(t.app)
        .delete('/models/default/from-yaml/versions/v0')
        .expect(409);
      await request(t.app)
        .get('/models/default/from-yaml/versions/v0/files/a.bin')
        .expect(200);
      await request(t.app)
        .delete('/models/default/from-yaml')
        .set('Authorization', t.as(DANA))
        .expect(204);
      expect(await t.auditTrail()).toEqual(
        expect.arrayContaining([
          `model-delete ${DANA} model:default/gone`,
          `model-delete ${DANA} model:default/from-yaml`,
        ]),
      );
    });

    it('edits metadata of API-created models, validated, with 4xx messages', async () => {
      const t = await setup(id);
      const created = (await t.createModel('editable')).body;

      const res = await request(t.app)
        .patch('/models/default/editable')
        .send({
          title: 'Editable',
          lifecycle: 'production',
          tags: ['chat', 'chat', 'support'],
          system: 'assistants',
          license: 'apache-2.0',
          expectedUpdatedAt: created.updatedAt,
        })
        .expect(200);
      expect(res.body).toMatchObject({
        title: 'Editable',
        lifecycle: 'production',
        tags: ['chat', 'support'],
        system: 'system:default/assistants',
        license: 'apache-2.0',
        type: 'llm',
        origin: 'hub',
      });
      // listed and searchable with the new metadata
      const found = await request(t.app)
        .get('/models?tag=support&q=editable')
        .expect(200);
      expect(found.body.items.map((m: any) => m.name)).toEqual(['editable']);
      // null clears an optional field
      const cleared = await request(t.app)
        .patch('/models/default/editable')
        .send({ license: null })
        .expect(200);
      expect(cleared.body.license).toBeUndefined();

      const bad = await request(t.app)
        .patch('/models/default/editable')
        .send({ type: 'transformer', tags: ['Not A Tag'], name: 'renamed' })
        .expect(400);
      expect(bad.body.error.message).toMatch(/^Invalid model: /);
      expect(bad.body.error.message).toContain('type');
      expect(bad.body.error.message).toContain(
        'tags.0: must be a lower-case tag',
      );
      expect(bad.body.error.message).toContain('name');
      const empty = await request(t.app)
        .patch('/models/default/editable')
        .send({})
        .expect(400);
      expect(empty.body.error.message).toContain(
        'at least one field to change is required',
      );
      const stale = await request(t.app)
        .patch('/models/default/editable')
        .send({ title: 'x', expectedUpdatedAt: created.updatedAt })
        .expect(409);
      expect(stale.body.error.message).toContain('changed concurrently');
      const foreign = await request(t.app)
        .patch('/models/default/editable')
        .send({ owner: 'group:default/other-team' })
        .expect(403);
      expect(foreign.body.error.message).toContain('group:default/other-team');
      await request(t.app)
        .patch('/models/default/editable')
        .set('Authorization', t.as(CAROL))
        .send({ title: 'x' })
        .expect(403);
      // admins may hand a model to any group
      await request(t.app)
        .patch('/models/default/editable')
        .set('Authorization', t.as(DANA))
        .send({ owner: 'group:default/other-team' })
        .expect(200);
      await request(t.app)
        .patch('/models/default/missing')
        .send({ title: 'x' })
        .expect(404);
      // nothing half-written by the refused changes
      const after = (
        await request(t.app).get('/models/default/editable').expect(200)
      ).body;
      expect(after).toMatchObject({
        title: 'Editable',
        type: 'llm',
        owner: 'group:default/other-team',
        tags: ['chat', 'support'],
      });

      await t.store.createModel({
        namespace: 'default',
        name: 'from-yaml',
        type: 'llm',
        lifecycle: 'production',
        owner: 'group:default/ml-engineers',
        sourceType: 'upload',
        tags: [],
        createdBy: 'catalog',
      });
      const catalogDefined = await request(t.app)
        .patch('/models/default/from-yaml')
        .send({ title: 'x' })
        .expect(409);
      expect(catalogDefined.body.error.message).toBe(
        'Model model:default/from-yaml is defined in the catalog; edit its catalog YAML instead',
      );
      expect(
        (await t.auditTrail()).filter(e => e.startsWith('model-update')),
      ).toEqual([
        `model-update ${ALICE} model:default/editable`,
        `model-update ${ALICE} model:default/editable`,
        `model-update ${DANA} model:default/editable`,
      ]);
    });

    it('applies the retention policy: archives old deprecated versions and releases their blobs to the GC', async () => {
      const t = await setup(id);
      await t.createModel('llama');
      const now = Date.now();
      // v1..v4 deprecated 200, 100, 50 and 10 days ago; v5 approved
      const deprecatedDaysAgo: Record<string, number> = {
        v1: 200,
        v2: 100,
        v3: 50,
        v4: 10,
      };
      for (const label of ['v1', 'v2', 'v3', 'v4', 'v5']) {
        await t.createVersion('llama', label);
        await t.upload(
          'llama',
          label,
          'model.safetensors',
          Buffer.from(`weights ${label}`),
        );
        await t.upload(
          'llama',
          label,
          'config.json',
          Buffer.from('{"shared":true}'),
        );
      }
      for (const [label, days] of Object.entries(deprecatedDaysAgo)) {
        await t.setState(
          'llama',
          label,
          'deprecated',
          new Date(now - days * DAY),
        );
      }
      await t.setState('llama', 'v5', 'approved');
      // another model: its only deprecated version is recent
      await t.createModel('other');
      await t.createVersion('other', 'v1');
      await t.upload('other', 'v1', 'w.bin', Buffer.from('other weights'));
      await t.setState('other', 'v1', 'deprecated', new Date(now - DAY));

      const result = await applyRetention({
        config: {
          keepDeprecated: 2,
          archiveAfterMs: 90 * DAY,
          releaseArchivedFiles: true,
          schedule: { frequency: { hours: 24 }, timeout: { hours: 1 } },
        },
        lifecycle: t.lifecycle,
        store: t.store,
        approvals: t.approvals,
        auditor: t.auditor,
        logger: t.logger,
      });
      // v1, v2: beyond the newest two deprecated (v4, v3); v3 and v4 are recent
      expect(result).toEqual({
        archived: 2,
        releasedVersions: 2,
        releasedFiles: 4,
        releasedBytes: 2 * ('weights v1'.length + '{"shared":true}'.length),
        errors: 0,
      });
      const versions = (
        await request(t.app).get('/models/default/llama/versions').expect(200)
      ).body.items;
      expect(
        Object.fromEntries(
          versions.map((v: any) => [v.label, [v.state, v.fileCount]]),
        ),
      ).toEqual({
        v1: ['archived', 0],
        v2: ['archived', 0],
        v3: ['deprecated', 2],
        v4: ['deprecated', 2],
        v5: ['approved', 2],
      });
      expect(
        (
          await request(t.app)
            .get('/models/default/other/versions/v1')
            .expect(200)
        ).body.state,
      ).toBe('deprecated');

      // the GC frees the weights of v1 and v2; the shared config.json stays
      const collected = await t.gc();
      expect(collected.unreferenced).toBe(2);
      expect(
        await t.artifacts.stat(sha256Of(Buffer.from('weights v1'))),
      ).toBeUndefined();
      expect(
        await t.artifacts.stat(sha256Of(Buffer.from('weights v2'))),
      ).toBeUndefined();
      expect(
        await t.artifacts.stat(sha256Of(Buffer.from('weights v3'))),
      ).toBeDefined();
      expect(
        await t.artifacts.stat(sha256Of(Buffer.from('{"shared":true}'))),
      ).toBeDefined();
      await expect(
        t.store.getBlob({ sha256: sha256Of(Buffer.from('{"shared":true}')) }),
      ).resolves.toMatchObject({ refCount: 3 });

      // audited as the retention policy
      expect(await t.auditTrail()).toEqual(
        expect.arrayContaining([
          `version-archive ${RETENTION_ACTOR} model:default/llama v1`,
          `version-archive ${RETENTION_ACTOR} model:default/llama v2`,
          `version-files-release ${RETENTION_ACTOR} model:default/llama v1`,
          `version-files-release ${RETENTION_ACTOR} model:default/llama v2`,
        ]),
      );

      // a second run finds nothing to do; with a shorter period v3 ages out
      const again = await applyRetention({
        config: {
          archiveAfterMs: 30 * DAY,
          releaseArchivedFiles: true,
          schedule: { frequency: { hours: 24 }, timeout: { hours: 1 } },
        },
        lifecycle: t.lifecycle,
        store: t.store,
        approvals: t.approvals,
        auditor: t.auditor,
        logger: t.logger,
      });
      expect(again).toMatchObject({
        archived: 1,
        releasedVersions: 1,
        errors: 0,
      });
      expect(
        (
          await request(t.app)
            .get('/models/default/llama/versions/v3')
            .expect(200)
        ).body,
      ).toMatchObject({
        state: 'archived',
        fileCount: 0,
      });
    });
  },
);
