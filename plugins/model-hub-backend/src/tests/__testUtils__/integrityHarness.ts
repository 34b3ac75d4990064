import { request as httpRequest } from 'node:http';
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { join } from 'node:path';
import { ConfigReader } from '@backstage/config';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import express from 'express';
import { Knex } from 'knex';
import request from 'supertest';
import { ApprovalsService } from '../../approvals/ApprovalsService';
import { readApprovalsConfig } from '../../approvals/config';
import { DatabaseApprovalsStore } from '../../approvals/DatabaseApprovalsStore';
import { DEFAULT_ARCHIVE_OPTIONS } from '../../archive/limits';
import { contentDigest } from '../../database/contentDigest';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { DEFAULT_INSPECTION_LIMITS } from '../../inspection/types';
import { createRouter } from './router';
import { LocalArtifactStore } from '../../store/LocalArtifactStore';
import { UploadsConfig } from '../../uploads/config';
import { createUploadRoutes } from '../../uploads/routes';

export const ALICE = 'user:default/alice';
export const BOB = 'user:default/bob';
export const CAROL = 'user:default/carol';
export const ADMIN = 'user:default/admin';

export const as = (user: string) => mockCredentials.user.header(user);
export const API = '/api/model-hub';

/**
 * The plugin's router with the approvals workflow and the upload routes
 * (PUT, multipart, tus, ZIP packages), on a real database and a local
 * store, listening on 127.0.0.1 for requests whose bodies arrive slowly.
 * Everyone may do everything except what a test denies.
 */
export async function createIntegrityHarness(options: {
  knex: Knex;
  root: string;
  /** `modelHub.approvals` (default: no required checks). */
  approvals?: object;
}) {
  const { knex, root } = options;
  const database = mockServices.database({ knex, migrations: { skip: false } });
  const store = await DatabaseModelHubStore.create({ database });
  const approvalsStore = await DatabaseApprovalsStore.create({
    database,
    skipMigrations: true,
  });
  const approvals = new ApprovalsService({
    store: approvalsStore,
    hubStore: store,
    config: readApprovalsConfig(
      new ConfigReader({
        modelHub: {
          approvals: options.approvals ?? { requiredChecks: [] },
        },
      }),
    ),
    logger: mockServices.logger.mock(),
  });
  const artifacts = await LocalArtifactStore.create({
    path: join(root, 'store'),
  });
  const config: UploadsConfig = {
    directory: join(root, 'uploads'),
    maxFileBytes: 64 * 1024 * 1024,
    expirationMs: 3_600_000,
    maxActiveUploadsPerUser: 20,
    syncIntervalBytes: 64 * 1024 * 1024,
    writeMode: 'buffered',
    archive: {
      ...DEFAULT_ARCHIVE_OPTIONS,
      maxArchiveBytes: 16 * 1024 * 1024,
      maxEntryBytes: 8 * 1024 * 1024,
      maxTotalBytes: 16 * 1024 * 1024,
      maxEntries: 50,
      requiredFiles: {},
    },
    inspection: DEFAULT_INSPECTION_LIMITS,
  };
  const uploads = await createUploadRoutes({
    db: knex,
    config,
    localStorePath: join(root, 'store'),
  });
  const allow = jest.fn(async (requests: any[]) =>
    requests.map(() => ({ result: AuthorizeResult.ALLOW })),
  );
  const router = await createRouter({
    store,
    approvals,
    artifacts,
    inspection: uploads.inspection,
    auth: mockServices.auth(),
    httpAuth: mockServices.httpAuth({
      defaultCredentials: mockCredentials.user(ALICE),
    }),
    userInfo: {
      getUserInfo: async (credentials: any) => ({
        userEntityRef: credentials.principal.userEntityRef,
        ownershipEntityRefs: [credentials.principal.userEntityRef],
      }),
    },
    permissions: mockServices.permissions.mock({
      authorize: allow as any,
      authorizeConditional: allow as any,
    }),
    auditor: mockServices.auditor.mock({
      createEvent: jest.fn(async () => ({
        success: jest.fn(async () => {}),
        fail: jest.fn(async () => {}),
      })),
    }),
    catalog: catalogServiceMock({ entities: [] }),
    logger: mockServices.logger.mock(),
    maxUploadBytes: config.maxFileBytes,
    gcGracePeriodMs: 0,
    extensions: [uploads.routes],
  });
  const app = express().use(API, router).use(mockErrorHandler());
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise(r => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;

  const versionPath = (model: string, label: string) =>
    `${API}/models/default/${model}/versions/${label}`;

  const h = {
    app,
    knex,
    store,
    approvalsStore,
    artifacts,
    config,
    port,
    versionPath,
    async close() {
      await new Promise(r => server.close(r));
    },
    async createModel(name: string, user = ALICE) {
      await request(app)
        .post(`${API}/models`)
        .set('Authorization', as(user))
        .send({ name, type: 'llm', owner: user })
        .expect(201);
    },
    async createVersion(model: string, label: string, user = ALICE) {
      await request(app)
        .post(`${API}/models/default/${model}/versions`)
        .set('Authorization', as(user))
        .send({ label })
        .expect(201);
    },
    put(
      model: string,
      label: string,
      path: string,
      content: Buffer,
      user = ALICE,
    ) {
      return request(app)
        .put(`${versionPath(model, label)}/files/${path}`)
        .set('Authorization', as(user))
        .set('Content-Type', 'application/octet-stream')
        .send(content);
    },
    transition(model: string, label: string, user: string, action: string) {
      return request(app)
        .post(`${versionPath(model, label)}/transitions`)
        .set('Authorization', as(user))
        .send({ action, ...(action === 'submit' ? {} : { comment: 'ok' }) });
    },
    /** Alice submits, Bob approves; both must succeed. */
    async submitAndApprove(model: string, label: string) {
      await h.transition(model, label, ALICE, 'submit').expect(200);
      await h.transition(model, label, BOB, 'approve').expect(200);
    },
    async version(model: string, label: string) {
      const res = await request(app)
        .get(versionPath(model, label))
        .set('Authorization', as(ALICE))
        .expect(200);
      return res.body;
    },
    async files(model: string, label: string) {
      const res = await request(app)
        .get(`${versionPath(model, label)}/files`)
        .set('Authorization', as(ALICE))
        .expect(200);
      return res.body.files as { path: string; sha256: string; size: number }[];
    },
    /**
     * The invariants of an approved version: its content digest is the
     * approved one, and every file the download route serves is one of
     * the approved files, with the approved bytes.
     */
    async expectServesApprovedContent(model: string, label: string) {
      const version = await h.version(model, label);
      expect(version.state).toBe('approved');
      expect(version.approvedDigest).toBeDefined();
      expect(version.contentDigest).toBe(version.approvedDigest);
      const files = await h.files(model, label);
      expect(contentDigest(files)).toBe(version.approvedDigest);
      for (const file of files) {
        const res = await request(app)
          .get(`${versionPath(model, label)}/files/${file.path}`)
          .set('Authorization', as(CAROL))
          .buffer(true)
          .parse((r, cb) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => cb(null, Buffer.concat(chunks)));
          })
          .expect(200);
        expect(res.headers['x-content-sha256']).toBe(file.sha256);
        expect((res.body as Buffer).length).toBe(file.size);
      }
      return files;
    },
    /**
     * Starts a request over a real connection and sends the first part of
     * its body; the rest is sent by `finish`, and the answer is read then.
     */
    slowRequest(slow: {
      method: string;
      path: string;
      headers: Record<string, string>;
      first: Buffer;
      rest: Buffer;
    }) {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: slow.method,
        path: slow.path,
        headers: {
          ...slow.headers,
          'Content-Length': String(slow.first.length + slow.rest.length),
        },
      });
      const answer = new Promise<{ status: number; body: string }>(
        (resolve, reject) => {
          req.on('response', res => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
          });
          req.on('error', reject);
        },
      );
      req.write(slow.first);
      return {
        /** Sends the rest of the body and waits for the answer. */
        async finish() {
          req.end(slow.rest);
          return answer;
        },
      };
    },
  };
  return h;
}

export type IntegrityHarness = Awaited<
  ReturnType<typeof createIntegrityHarness>
>;

/** Waits a little: long enough for a request's first bytes to be handled. */
export const settle = (ms = 300) => new Promise(r => setTimeout(r, ms));
