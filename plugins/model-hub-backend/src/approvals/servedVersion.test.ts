import { join } from 'node:path';
import {
  createMockDirectory,
  mockCredentials,
  mockErrorHandler,
  mockServices,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import request from 'supertest';
import { HubModel } from '../database/types';
import {
  MirrorHarness,
  startMirrorHarness,
} from '../mirror/__testUtils__/mirrorHarness';
import { LocalArtifactStore } from '../store/LocalArtifactStore';
import { createRouter } from '../tests/__testUtils__/router';
import { ApprovalsService } from './ApprovalsService';
import { readApprovalsConfig } from './config';
import { DatabaseApprovalsStore } from './DatabaseApprovalsStore';
import { DownloadAuthorizer } from './downloadAuthorizer';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const mockDir = createMockDirectory();
const ALICE = 'user:default/alice';

describe.each(databases.eachSupportedId())(
  'the served version: REST and the mirror alike (%s)',
  databaseId => {
    let h: MirrorHarness;

    afterEach(async () => {
      await h?.stop();
    });

    it('names the same version on the REST API, in the models list and on the mirror, through promotions, rollbacks and deprecations', async () => {
      const knex = await databases.init(databaseId);
      const artifacts = await LocalArtifactStore.create({
        path: join(mockDir.path, databaseId),
      });
      // the mirror (main, as Hub clients resolve it)
      h = await startMirrorHarness({
        knex,
        artifacts,
        mirrorConfig: { allowAnonymous: true },
      });
      // the REST API with the approvals workflow, on the same database
      const approvals = new ApprovalsService({
        store: await DatabaseApprovalsStore.create({
          database: mockServices.database({ knex }),
          skipMigrations: true,
        }),
        hubStore: h.store,
        config: readApprovalsConfig(new ConfigReader({})),
        logger: mockServices.logger.mock(),
      });
      const allow = jest.fn(async (requests: any[]) =>
        requests.map(() => ({ result: AuthorizeResult.ALLOW })),
      );
      const router = await createRouter({
        store: h.store,
        approvals,
        artifacts,
        auth: mockServices.auth(),
        httpAuth: mockServices.httpAuth({
          defaultCredentials: mockCredentials.user(ALICE),
        }),
        userInfo: mockServices.userInfo(),
        permissions: mockServices.permissions.mock({
          authorize: allow as any,
          authorizeConditional: allow as any,
        }),
        auditor: mockServices.auditor.mock(),
        catalog: catalogServiceMock({ entities: [] }),
        logger: mockServices.logger.mock(),
        maxUploadBytes: 1024 ** 2,
        gcGracePeriodMs: 0,
      });
      const app = express().use(router).use(mockErrorHandler());

      // v1, v2, v3 (deprecated) and v4 approved in that order; v5 a draft
      const model: HubModel = await h.addModel('acme', 'served');
      const versions: Record<string, any> = {};
      for (const label of ['v1', 'v2', 'v3', 'v4', 'v5']) {
        versions[label] = await h.addVersion(model, label, { 'a.txt': label });
      }
      for (const label of ['v1', 'v2', 'v3', 'v4']) {
        await h.setState(versions[label], 'approved');
      }
      await h.setState(versions.v3, 'deprecated');
      const version = async (label: string) =>
        (await h.store.getVersion({ modelId: model.id, label }))!;

      /** What each side names: REST (detail, list), approvals, mirror. */
      async function observe() {
        const detail = await request(app)
          .get('/models/acme/served')
          .expect(200);
        const list = await request(app).get('/models?limit=100').expect(200);
        const item = list.body.items.find((m: any) => m.name === 'served');
        const served = await approvals.servedVersion(model);
        const main = await fetch(`${h.hubUrl}/acme/served/resolve/main/a.txt`);
        expect(main.status).toBe(200);
        return {
          rest: detail.body.activeVersion?.label ?? null,
          restState: detail.body.activeVersion?.state ?? null,
          list: item.activeVersion?.label ?? null,
          active: served.active?.label ?? null,
          served: served.served?.label,
          mirror: await main.text(),
        };
      }

      // nothing promoted: no active version on REST; the mirror serves the
      // newest approved version (v3 is deprecated), which is the served one
      expect(await observe()).toEqual({
        rest: null,
        restState: null,
        list: null,
        active: null,
        served: 'v4',
        mirror: 'v4',
      });

      const promote = async (label: string) =>
        approvals.promote({
          model,
          version: await version(label),
          actor: ALICE,
        });
      const both = (label: string) => ({
        rest: label,
        restState: 'approved',
        list: label,
        active: label,
        served: label,
        mirror: label,
      });

      await promote('v2');
      expect(await observe()).toEqual(both('v2'));
      await promote('v4');
      expect(await observe()).toEqual(both('v4'));
      // back to the one active before
      await approvals.rollback({ model, actor: ALICE });
      expect(await observe()).toEqual(both('v2'));
      // to a named one
      await approvals.rollback({ model, label: 'v1', actor: ALICE });
      expect(await observe()).toEqual(both('v1'));
      // a deprecated version cannot be promoted, nor rolled back to
      await expect(promote('v3')).rejects.toThrow(/deprecated/);
      await expect(
        approvals.rollback({ model, label: 'v3', actor: ALICE }),
      ).rejects.toThrow(/deprecated/);

      // deprecating the active version: REST keeps it, with its state; it
      // is no longer served, so the mirror serves the served version (the
      // approved version approved last)
      await h.setState(versions.v1, 'deprecated');
      const deprecated = await observe();
      expect(deprecated).toEqual({
        rest: 'v1',
        restState: 'deprecated',
        list: 'v1',
        active: 'v1',
        served: 'v4',
        mirror: 'v4',
      });

      // one authorizer decides downloads, on the REST API and the mirror
      const check = jest.spyOn(DownloadAuthorizer.prototype, 'check');
      try {
        const rest = await request(app)
          .get('/models/acme/served/versions/v4/files/a.txt')
          .expect(200);
        expect(Buffer.from(rest.body).toString()).toBe('v4');
        expect(check).toHaveBeenCalledTimes(1);
        expect(check.mock.calls[0][1].id).toBe(model.id);
        expect(check.mock.calls[0][2]?.label).toBe('v4');
        const mirror = await fetch(`${h.hubUrl}/acme/served/resolve/v4/a.txt`);
        expect(await mirror.text()).toBe('v4');
        expect(check.mock.calls.length).toBeGreaterThan(1);
        expect(check.mock.calls.slice(1).map(c => c[1].id)).toEqual(
          check.mock.calls.slice(1).map(() => model.id),
        );
      } finally {
        check.mockRestore();
      }
    });
  },
);
