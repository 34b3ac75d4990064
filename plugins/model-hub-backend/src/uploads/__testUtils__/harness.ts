import { promises as fs } from 'node:fs';
import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import { join } from 'node:path';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { HubFile } from '@model-hub/backstage-plugin-model-hub-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import { Knex } from 'knex';
import request from 'supertest';
import { DEFAULT_ARCHIVE_OPTIONS } from '../../archive/limits';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { DEFAULT_INSPECTION_LIMITS } from '../../inspection/types';
import { createRouter } from '../../tests/__testUtils__/router';
import { LocalArtifactStore } from '../../store/LocalArtifactStore';
import { UploadsConfig } from '../config';
import { ArtifactStore } from '../../store/ArtifactStore';
import { createUploadRoutes, UploadRoutesOptions } from '../routes';

export const ALICE = 'user:default/alice';
export const BOB = 'user:default/bob';

export type Denial = (
  permission: string,
  resourceRef?: string,
  user?: string,
) => boolean;

/** The plugin's router with the upload routes, on a real database and store. */
export async function createHarness(options: {
  knex: Knex;
  root: string;
  config?: (c: UploadsConfig) => void;
  maxFileBytes?: number;
  /** Another artifact store than the local one under `root/store`. */
  artifacts?: ArtifactStore;
  /** The S3 store's bucket and client (with `config` setting `tusStore: 's3'`). */
  s3?: UploadRoutesOptions['s3'];
}) {
  const { knex, root } = options;
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({ knex, migrations: { skip: false } }),
  });
  const artifacts =
    options.artifacts ??
    (await LocalArtifactStore.create({
      path: join(root, 'store'),
    }));
  const maxFileBytes = options.maxFileBytes ?? 4 * 1024 ** 3;
  const config: UploadsConfig = {
    directory: join(root, 'uploads'),
    maxFileBytes,
    expirationMs: 3_600_000,
    maxActiveUploadsPerUser: 5,
    syncIntervalBytes: 64 * 1024 * 1024,
    writeMode: 'direct',
    archive: {
      ...DEFAULT_ARCHIVE_OPTIONS,
      maxArchiveBytes: 64 * 1024 * 1024,
      maxEntryBytes: 32 * 1024 * 1024,
      maxTotalBytes: 48 * 1024 * 1024,
      maxEntries: 200,
      requiredFiles: { llm: ['config.json', '*.safetensors|*.gguf'] },
    },
    inspection: DEFAULT_INSPECTION_LIMITS,
  };
  options.config?.(config);
  let deny: Denial = () => false;
  const authorize = jest.fn(async (requests: any[], opts: any) =>
    requests.map(r => ({
      result: deny(
        r.permission.name,
        r.resourceRef,
        opts?.credentials?.principal?.userEntityRef,
      )
        ? AuthorizeResult.DENY
        : AuthorizeResult.ALLOW,
    })),
  );
  const events: { eventId: string; outcome: string }[] = [];
  const auditor = mockServices.auditor.mock({
    createEvent: jest.fn(async ({ eventId }) => ({
      success: async () => {
        events.push({ eventId, outcome: 'success' });
      },
      fail: async () => {
        events.push({ eventId, outcome: 'fail' });
      },
    })),
  });
  const uploads = await createUploadRoutes({
    db: knex,
    config,
    localStorePath: options.artifacts ? undefined : join(root, 'store'),
    s3: options.s3,
  });
  const router = await createRouter({
    store,
    artifacts,
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
      authorize: authorize as any,
      authorizeConditional: (async (requests: any[], opts: any) =>
        requests.map(r => ({
          result: deny(
            r.permission.name,
            undefined,
            opts?.credentials?.principal?.userEntityRef,
          )
            ? AuthorizeResult.DENY
            : AuthorizeResult.ALLOW,
        }))) as any,
    }),
    auditor,
    catalog: catalogServiceMock({ entities: [] }),
    logger: mockServices.logger.mock(),
    maxUploadBytes: maxFileBytes,
    gcGracePeriodMs: 0,
    extensions: [uploads.routes],
  });
  const app = express().use('/api/model-hub', router).use(mockErrorHandler());
  return {
    app,
    knex,
    store,
    artifacts,
    config,
    uploads,
    events,
    authorize,
    setDeny(d: Denial) {
      deny = d;
    },
    /** Creates model `default/llama` (type llm) and its draft version v1. */
    async seed(type = 'llm') {
      await request(app)
        .post('/api/model-hub/models')
        .send({ name: 'llama', type, owner: ALICE })
        .expect(201);
      await request(app)
        .post('/api/model-hub/models/default/llama/versions')
        .send({ label: 'v1' })
        .expect(201);
    },
    /** The files of version v1 of default/llama (what `seed` creates). */
    async files(): Promise<HubFile[]> {
      const res = await request(app)
        .get('/api/model-hub/models/default/llama/versions/v1/files')
        .expect(200);
      return res.body.files;
    },
    /** Rows and blobs, to prove that failures leave nothing behind. */
    async counts() {
      const count = async (table: string) =>
        Number((await knex(table).count({ c: '*' }))[0].c);
      let blobsInStore = 0;
      for await (const _ of artifacts.list()) {
        blobsInStore += 1;
      }
      const staging = await fs.readdir(join(config.directory, 'staging'));
      const storeTmp = await fs.readdir(join(root, 'store', 'tmp'));
      return {
        versions: await count('model_versions'),
        files: await count('version_files'),
        blobs: await count('blobs'),
        checks: await count('version_checks'),
        sessions: await count('upload_sessions'),
        blobsInStore,
        staging: staging.length,
        storeTmp: storeTmp.length,
      };
    },
    /** Listens on 127.0.0.1; resolves with the base URL. */
    async listen(): Promise<{ url: string; server: Server }> {
      const server = app.listen(0, '127.0.0.1');
      await new Promise(r => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}/api/model-hub`, server };
    },
  };
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;

/** A tus `Upload-Metadata` header: keys with base64 values. */
export function tusMetadata(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}
