import {
  AuditorService,
  AuthService,
  DatabaseService,
  DiscoveryService,
  HttpAuthService,
  LifecycleService,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { Router } from 'express';
import { ModelHubStore } from '../database/ModelHubStore';
import { RouteContext } from '../service/context';
import { ModelHubFeature } from '../service/feature';
import { ArtifactStore } from '../store/ArtifactStore';
import { recordDownloadSafely } from '../service/routes/activity';
import { MirrorAccess } from './access';
import type { ModelAccess } from '../service/modelAccess';
import type { DownloadAuthorizer } from '../approvals/downloadAuthorizer';
import { readMirrorConfig } from './config';
import { addMirrorRoutes } from './hfRoutes';
import { MirrorStore } from './MirrorStore';
import { MirrorRepository } from './repository';
import { OnDemandFetcher } from './onDemandFetch';
import {
  MirrorHubSources,
  OnDemandFetchOptions,
  readOnDemandFetch,
} from './onDemandConfig';
import { addMirrorTokenRoutes } from './tokenRoutes';
import {
  createAuthBackendTokenOwnerCredentials,
  TokenOwnerCredentials,
} from './tokenIdentity';

/** Adds the routes of the mirror to the plugin's router. @internal */
export type MirrorRoutes = (router: Router, ctx: RouteContext) => void;

/** Every route of the mirror, as `METHOD path`. @internal */
export const MIRROR_ROUTES = [
  'GET /tokens',
  'POST /tokens',
  'DELETE /tokens/:id',
  'GET /admin/tokens',
  'DELETE /admin/tokens/:id',
  'GET /hf/api/whoami-v2',
  'GET /hf/api/models/:org/:name',
  'GET /hf/api/models/:org/:name/revision/:rev',
  'GET /hf/api/models/:org/:name/refs',
  'GET /hf/api/models/:org/:name/tree/:rev',
  'GET /hf/api/models/:org/:name/tree/:rev/*',
  'POST /hf/api/models/:org/:name/paths-info/:rev',
  'HEAD /hf/:org/:name/resolve/:rev/*',
  'GET /hf/:org/:name/resolve/:rev/*',
  'HEAD /hf/:org/:name/raw/:rev/*',
  'GET /hf/:org/:name/raw/:rev/*',
] as const;

/**
 * The routes of the mirror when it is not set up: the same paths, answering
 * 404, so that the route table (and the OpenAPI document) stays the same.
 *
 * @internal
 */
export const addDisabledMirrorRoutes: MirrorRoutes = router => {
  for (const route of MIRROR_ROUTES) {
    const [method, path] = route.split(' ');
    const m = method.toLowerCase() as 'get' | 'post' | 'head' | 'delete';
    router[m](path, (_req, res) => {
      res
        .status(404)
        .setHeader('X-Error-Code', 'RepoNotFound')
        .setHeader('X-Error-Message', 'The Model Hub mirror is not enabled')
        .json({ error: 'The Model Hub mirror is not enabled' });
    });
  }
};

/** What the mirror needs; the tables come from the plugin's migrations. @internal */
export type MirrorOptions = {
  config: Config;
  database: DatabaseService;
  discovery: DiscoveryService;
  auth: AuthService;
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  auditor: AuditorService;
  logger: LoggerService;
  /** The hub's decision path of resource permissions on models. */
  modelAccess?: ModelAccess;
  /**
   * Who may download which version: the approvals workflow's authorizer,
   * the same one as the REST API's (`ApprovalsService.downloads`); the
   * default approval policy without it.
   */
  downloads?: DownloadAuthorizer;
  /**
   * Signs in the owner of a personal token; defaults to the auth backend's
   * `model-hub-token-identity` provider (tests replace it).
   */
  tokenOwnerCredentials?: TokenOwnerCredentials;
  /**
   * Registers a Hub repo with the Hugging Face sync, for pull-through
   * (`modelHub.mirror.pullThrough`); resolved on use, so it may be wired
   * after the mirror is created.
   */
  registerHubRepo?: (options: {
    repoId: string;
    revision: string;
    owner: string;
    createdBy: string;
  }) => Promise<unknown>;
  /**
   * `modelHub.huggingface.fetch: on-demand`: files of approved versions
   * whose bytes are not in the store are fetched from the Hub when a client
   * asks for them, one upstream fetch per file shared by concurrent
   * requests (see {@link OnDemandFetcher}). Defaults to the one
   * `modelHub.huggingface` describes when its `fetch` is `on-demand`;
   * `false`: none (the Hugging Face feature said so).
   */
  onDemandFetch?: OnDemandFetchOptions | false;
  /**
   * The model sources of the Hugging Face setup (its `SourceRegistry`): a
   * file fetched on demand comes through the client of its model's source
   * (endpoint, token, proxy), and a Hub repo id registered from several
   * sources names the model of the default source.
   */
  hubSources?: MirrorHubSources;
  /**
   * Called for every file an on-demand fetch stores (the format
   * inspection, as for the files of download jobs); used unless
   * `onDemandFetch` names its own.
   */
  onFileStored?: OnDemandFetchOptions['onFileStored'];
  /** Stops the on-demand fetches in progress at shutdown. */
  lifecycle?: LifecycleService;
};

/**
 * The HF-compatible mirror as a feature: its routes (`/hf/...` for Hub
 * clients, `/tokens` for personal access tokens), with `/hf` opened by an
 * `unauthenticated` auth policy: the mirror authenticates its callers
 * itself.
 *
 * @internal
 */
export async function createMirror(
  options: MirrorOptions,
): Promise<ModelHubFeature> {
  const mirrorConfig = readMirrorConfig(options.config);
  const configured =
    options.onDemandFetch === false
      ? undefined
      : options.onDemandFetch ??
        readOnDemandFetch(options.config, options.logger, options.hubSources);
  const onDemandFetch: OnDemandFetchOptions | undefined = configured && {
    ...configured,
    onFileStored: configured.onFileStored ?? options.onFileStored,
  };
  // fetches in progress end at shutdown; their partial files stay and the
  // next request for the file resumes them
  const fetchers = new Set<OnDemandFetcher>();
  options.lifecycle?.addShutdownHook(async () => {
    await Promise.all([...fetchers].map(f => f.stop()));
  });
  const db = await options.database.getClient();
  const mirrorStore = new MirrorStore(db);
  const access = new MirrorAccess({
    httpAuth: options.httpAuth,
    permissions: options.permissions,
    auditor: options.auditor,
    modelAccess: options.modelAccess,
    downloads: options.downloads,
    mirrorStore,
    logger: options.logger,
    allowAnonymous: mirrorConfig.allowAnonymous,
    decisionCacheMs: mirrorConfig.tokenDecisionCacheMs,
    tokenOwnerCredentials:
      options.tokenOwnerCredentials ??
      createAuthBackendTokenOwnerCredentials({
        auth: options.auth,
        discovery: options.discovery,
      }),
  });
  const routes: MirrorRoutes = (router: Router, ctx: RouteContext) => {
    const store: ModelHubStore = ctx.options.store;
    const artifacts: ArtifactStore = ctx.options.artifacts;
    const onDemand = onDemandFetch
      ? new OnDemandFetcher({
          ...onDemandFetch,
          store,
          artifacts,
          db,
          logger: options.logger,
        })
      : undefined;
    if (onDemand) {
      fetchers.add(onDemand);
    }
    addMirrorTokenRoutes(router, ctx, {
      mirrorStore,
      maxLifetimeDays: mirrorConfig.tokenMaxLifetimeDays,
    });
    addMirrorRoutes(router, {
      repository: new MirrorRepository({
        store,
        mirrorStore,
        artifacts,
        logger: options.logger,
        includePending: Boolean(onDemand),
        defaultSource: () =>
          options.hubSources?.defaultHubSource()?.name ?? 'huggingface',
      }),
      access,
      onDemand,
      artifacts,
      discovery: options.discovery,
      logger: options.logger,
      treePageSize: mirrorConfig.treePageSize,
      recordDownload: bytes =>
        recordDownloadSafely(store, options.logger, bytes),
      pullThrough:
        mirrorConfig.pullThrough && options.registerHubRepo
          ? async ({ repoId, actor }) => {
              await options.registerHubRepo!({
                repoId,
                revision: mirrorConfig.pullThrough!.revision,
                owner: mirrorConfig.pullThrough!.owner,
                createdBy: actor,
              });
            }
          : undefined,
    });
  };
  return {
    id: 'mirror',
    routes: [routes],
    authPolicies: [{ path: '/hf', allow: 'unauthenticated' }],
  };
}
