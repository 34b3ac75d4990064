import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  mockCredentials,
  mockErrorHandler,
  mockServices,
} from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import {
  AuthorizeResult,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import express from 'express';
import { Knex } from 'knex';
import { DatabaseModelHubStore } from '../../database/DatabaseModelHubStore';
import { HubModel, HubVersion } from '../../database/types';
import { ingestFile } from '../../service/ingest';
import { createRouter } from '../../tests/__testUtils__/router';
import { ArtifactStore } from '../../store/ArtifactStore';
import { TokenOwnerCredentials } from '../tokenIdentity';
import { createMirror, MirrorOptions } from '../createMirror';

/** The policy of a harness: decisions per user and permission. */
export type HarnessPolicy = {
  /** Decision of `authorize` for Backstage credentials. */
  authorize: (
    principal: string,
    resourceRef?: string,
    permission?: string,
  ) => AuthorizeResult;
  /** Decision of `authorizeConditional`. */
  conditional: (principal: string) => PolicyDecision;
};

/**
 * The plugin's router with the mirror, on a real HTTP server on 127.0.0.1,
 * mounted at `/api/model-hub` like the backend mounts it.
 */
export async function startMirrorHarness(options: {
  knex: Knex;
  artifacts: ArtifactStore;
  mirrorConfig?: {
    allowAnonymous?: boolean;
    treePageSize?: number;
    tokens?: { maxLifetimeDays?: number; decisionCacheSeconds?: number };
    pullThrough?: { enabled?: boolean; owner?: string; revision?: string };
  };
  registerHubRepo?: (options: {
    repoId: string;
    revision: string;
    owner: string;
    createdBy: string;
  }) => Promise<unknown>;
  /** Signs in token owners; defaults to plain user credentials. */
  tokenOwnerCredentials?: TokenOwnerCredentials;
  discoveryBaseUrl?: (pluginId: string) => Promise<string>;
  /** `fetch: on-demand` (see `MirrorOptions.onDemandFetch`). */
  onDemandFetch?: MirrorOptions['onDemandFetch'];
  /** The model sources (see `MirrorOptions.hubSources`). */
  hubSources?: MirrorOptions['hubSources'];
  /** See `MirrorOptions.onFileStored`. */
  onFileStored?: MirrorOptions['onFileStored'];
  /** See `MirrorOptions.lifecycle`. */
  lifecycle?: MirrorOptions['lifecycle'];
}) {
  const store = await DatabaseModelHubStore.create({
    database: mockServices.database({
      knex: options.knex,
      migrations: { skip: false },
    }),
  });
  const policy: HarnessPolicy = {
    authorize: () => AuthorizeResult.ALLOW,
    conditional: () => ({ result: AuthorizeResult.ALLOW }),
  };
  const principalOf = (credentials: any) =>
    credentials?.principal?.userEntityRef ??
    credentials?.principal?.subject ??
    'none';
  const authorize = jest.fn(async (requests: any[], opts: any) =>
    requests.map(r => ({
      result: policy.authorize(
        principalOf(opts.credentials),
        r.resourceRef,
        r.permission?.name,
      ),
    })),
  );
  const authorizeConditional = jest.fn(async (requests: any[], opts: any) =>
    requests.map(() => policy.conditional(principalOf(opts.credentials))),
  );
  const permissions = mockServices.permissions.mock({
    authorize: authorize as any,
    authorizeConditional: authorizeConditional as any,
  });
  const httpAuth = mockServices.httpAuth({
    defaultCredentials: mockCredentials.none(),
  });
  const auth = mockServices.auth();
  const logger = mockServices.logger.mock();
  const auditor = mockServices.auditor.mock();
  let externalBase = '';
  const discovery = {
    getBaseUrl: options.discoveryBaseUrl ?? (async () => externalBase),
    getExternalBaseUrl: async () => externalBase,
  };
  const mirror = await createMirror({
    config: new ConfigReader({
      modelHub: { mirror: options.mirrorConfig ?? {} },
    }),
    database: mockServices.database({ knex: options.knex }),
    discovery,
    auth,
    httpAuth,
    permissions,
    auditor,
    logger,
    tokenOwnerCredentials:
      options.tokenOwnerCredentials ?? (async ref => mockCredentials.user(ref)),
    registerHubRepo: options.registerHubRepo,
    onDemandFetch: options.onDemandFetch,
    hubSources: options.hubSources,
    onFileStored: options.onFileStored,
    lifecycle: options.lifecycle,
  });
  const router = await createRouter({
    mirror,
    store,
    artifacts: options.artifacts,
    auth,
    httpAuth,
    userInfo: mockServices.userInfo(),
    permissions,
    auditor,
    catalog: catalogServiceMock({ entities: [] }),
    logger,
    maxUploadBytes: 1024 ** 3,
    gcGracePeriodMs: 0,
  });
  const app = express().use('/api/model-hub', router).use(mockErrorHandler());
  const server: Server = createServer(app);
  await new Promise<void>(resolve =>
    server.listen(0, '127.0.0.1', () => resolve()),
  );
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/api/model-hub`;
  externalBase = baseUrl;

  async function addModel(namespace: string, name: string): Promise<HubModel> {
    return store.createModel({
      namespace,
      name,
      type: 'llm',
      task: 'text-generation',
      lifecycle: 'production',
      owner: 'group:default/ml-engineers',
      sourceType: 'upload',
      tags: ['test'],
      createdBy: 'user:default/alice',
    });
  }

  async function addVersion(
    model: HubModel,
    label: string,
    files: Record<string, Buffer | string>,
    source?: { sourceType: 'huggingface'; resolvedCommit: string },
  ): Promise<HubVersion> {
    const version = await store.createVersion({
      modelId: model.id,
      label,
      sourceType: 'upload',
      createdBy: 'user:default/alice',
      ...source,
    });
    for (const [path, content] of Object.entries(files)) {
      await ingestFile({
        store,
        artifacts: options.artifacts,
        versionId: version.id,
        path,
        kind: 'other',
        content: Readable.from([Buffer.from(content)]),
        createdBy: 'user:default/alice',
      });
    }
    return version;
  }

  /**
   * Sets the state of a version directly in the database; an approval binds
   * the version to its files as they are (`approved_digest`), as the
   * approvals workflow does.
   */
  let clock = Date.parse('2026-02-01T00:00:00Z');
  async function setState(version: HubVersion, state: HubVersion['state']) {
    clock += 60_000;
    await options
      .knex('model_versions')
      .where({ id: version.id })
      .update({
        state,
        updated_at: new Date(clock),
        revision: options.knex.raw('revision + 1'),
        ...(state === 'approved'
          ? { approved_digest: options.knex.ref('content_digest') }
          : {}),
      });
  }

  return {
    server,
    baseUrl,
    hubUrl: `${baseUrl}/hf`,
    app,
    knex: options.knex,
    store,
    policy,
    authorize,
    authorizeConditional,
    auditor,
    addModel,
    addVersion,
    setState,
    async stop() {
      await new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}

export type MirrorHarness = Awaited<ReturnType<typeof startMirrorHarness>>;

/** A small valid safetensors file: one F32 tensor of 2x3. */
export function safetensorsFile(): Buffer {
  const header = {
    __metadata__: { format: 'pt' },
    weight: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
  };
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) {
    json += ' ';
  }
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) {
    data.writeFloatLE(i / 2, i * 4);
  }
  return Buffer.concat([length, Buffer.from(json), data]);
}
