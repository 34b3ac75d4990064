import {
  AuditorService,
  AuditorServiceEventSeverityLevel,
  AuthService,
  BackstageCredentials,
  HttpAuthService,
  LoggerService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import { NotAllowedError, NotFoundError } from '@backstage/errors';
import {
  AuthorizeResult,
  BasicPermission,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { Request } from 'express';
import { Knex } from 'knex';
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel, HubVersion } from '../database/types';
import { ArtifactStore } from '../store/ArtifactStore';
import type { JobSignals } from '../jobs/JobSignals';
import { ModelCondition } from '../database/modelReadFilter';
import { ModelAccess } from './modelAccess';

/** JSON metadata of an audit event. */
type JsonObject = NonNullable<
  Parameters<AuditorService['createEvent']>[0]['meta']
>;

/**
 * What the core asks of the approvals workflow: the served (active) version
 * of a model for `GET /models/{ns}/{name}`, and the policy of unapproved
 * downloads.
 *
 * @internal
 */
export interface VersionApprovals {
  /** The active version as the API answers it; undefined when none. */
  getActiveVersion(model: HubModel): Promise<object | undefined>;
  policyFor(model: Pick<HubModel, 'type' | 'lifecycle'>): {
    allowUnapprovedDownloadsFor: readonly string[];
  };
}

/**
 * Decides whether a caller (already holding `model-hub.artifact.download`
 * on the model) may download the files of a version; throws
 * `NotAllowedError` (403) or `ConflictError` (409) otherwise. The approvals
 * feature supplies it.
 *
 * @internal
 */
export type DownloadAuthorizer = (
  ctx: RouteContext,
  req: Request,
  credentials: BackstageCredentials,
  model: HubModel,
  version: HubVersion,
) => Promise<void>;

/**
 * The hub's audit trail row of an audited mutation, for a mutation whose row
 * must commit with its change: `record` writes it in the mutation's
 * transaction, and {@link RouteContext.audited} then writes no second one.
 *
 * @internal
 */
export type AuditTrail = {
  record(tx: Knex.Transaction, actor: string, meta?: JsonObject): Promise<void>;
};

/** What the router needs. @internal */
export type RouterOptions = {
  store: ModelHubStore;
  artifacts: ArtifactStore;
  auth: AuthService;
  httpAuth: HttpAuthService;
  userInfo: UserInfoService;
  permissions: PermissionsService;
  auditor: AuditorService;
  catalog: CatalogService;
  logger: LoggerService;
  /** The largest file an upload may store, in bytes. */
  maxUploadBytes: number;
  /** Grace period of the garbage collection, in milliseconds. */
  gcGracePeriodMs: number;
  /**
   * The approvals workflow as the core routes read it (the active version
   * of a model); the approvals feature supplies it.
   */
  approvals?: VersionApprovals;
  /**
   * Who may download the files of a version that is not released (the
   * approvals feature's policy); asked on every download.
   */
  downloadAuthorizer: DownloadAuthorizer;
  /**
   * The decision path of resource permissions on models; made from the
   * other options when not given.
   */
  modelAccess?: ModelAccess;
  /**
   * Records the users who list jobs, with their read condition, as the
   * recipients of live job signals; without it nobody receives them.
   */
  jobSignals?: Pick<JobSignals, 'watch'>;
  /**
   * The Hugging Face sync state of a model (drift, its drift version,
   * `lastError`) for `GET /models/:namespace/:name`; `sync` is null
   * without it.
   */
  modelSync?: {
    describe(model: Pick<HubModel, 'id'>): Promise<object | undefined>;
  };
  /**
   * Format inspection of stored files (safetensors, GGUF, ONNX, pickle, …),
   * kept as checks on the version; without it files are not inspected.
   */
  inspection?: {
    inspectStoredFile(
      versionId: string,
      file: { path: string; sha256: string; size: number },
      artifacts: ArtifactStore,
    ): Promise<unknown>;
    forgetFile(versionId: string, path: string): Promise<unknown>;
  };
};

/** Every model of the hub, page by page. @internal */
export async function listAllModels(
  store: Pick<ModelHubStore, 'listModels'>,
): Promise<HubModel[]> {
  const all: HubModel[] = [];
  for (let offset = 0; ; offset += 1000) {
    const { items } = await store.listModels({ offset, limit: 1000 });
    all.push(...items);
    if (items.length < 1000) {
      return all;
    }
  }
}

/** The identity of a caller, for `created_by` columns and the audit trail. */
export function principalRef(credentials: BackstageCredentials): string {
  const p = credentials.principal as
    | { type: 'user'; userEntityRef: string }
    | { type: 'service'; subject: string }
    | { type: 'none' };
  // principal is typed `unknown` on BackstageCredentials
  if (p.type === 'user') {
    return p.userEntityRef;
  }
  return p.type === 'service' ? p.subject : 'anonymous';
}

/**
 * The kind of principal of a caller: `service` for static and external
 * access tokens and plugin credentials, which may never approve, reject,
 * revoke or waive.
 */
export function principalKind(
  credentials: BackstageCredentials,
): 'user' | 'service' | 'none' {
  const type = (credentials.principal as { type?: string }).type;
  return type === 'user' || type === 'service' ? type : 'none';
}

/**
 * The shared helpers of the route handlers: credentials, the single
 * `authorize` function (style guide 31), auditing, and lookups that throw
 * `NotFoundError`.
 *
 * @internal
 */
export class RouteContext {
  /** The decision path of resource permissions on models. */
  readonly access: ModelAccess;

  constructor(readonly options: RouterOptions) {
    this.access =
      options.modelAccess ??
      new ModelAccess({
        permissions: options.permissions,
        catalog: options.catalog,
        auth: options.auth,
        store: options.store,
        logger: options.logger,
        listAllModels: () => listAllModels(options.store),
      });
  }

  get store() {
    return this.options.store;
  }

  /** Credentials of a user or a service; rejects anonymous calls (401). */
  credentials(req: Request): Promise<BackstageCredentials> {
    return this.options.httpAuth.credentials(req, {
      allow: ['user', 'service'],
    });
  }

  /**
   * Authorizes a request for a basic permission, or for a resource permission
   * on the catalog entity ref of a model (through {@link ModelAccess}, the
   * one decision path of models); throws `NotAllowedError` (403) unless
   * allowed, or `NotFoundError` (404) when the caller may not even read the
   * model.
   */
  async authorize(
    req: Request,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<BackstageCredentials> {
    return this.authorizeWith(req, permission, resourceRef, true);
  }

  private async authorizeWith(
    req: Request,
    permission: BasicPermission | ResourcePermission,
    resourceRef: string | undefined,
    hideUnreadable: boolean,
  ): Promise<BackstageCredentials> {
    const credentials = await this.credentials(req);
    let allowed: boolean;
    if (permission.type === 'resource') {
      allowed = await this.access.decide(
        credentials,
        [permission as ResourcePermission],
        resourceRef!,
      );
      if (
        !allowed &&
        hideUnreadable &&
        !(await this.access.canRead(credentials, resourceRef!))
      ) {
        throw new NotFoundError(`Model ${resourceRef} not found`);
      }
    } else {
      const [decision] = await this.options.permissions.authorize(
        [{ permission: permission as BasicPermission }],
        { credentials },
      );
      allowed = decision.result === AuthorizeResult.ALLOW;
    }
    if (!allowed) {
      throw new NotAllowedError(
        `Not allowed: ${permission.name}${
          resourceRef ? ` on ${resourceRef}` : ''
        }`,
      );
    }
    return credentials;
  }

  /** Whether the caller holds a permission, without throwing. */
  async isAllowed(
    req: Request,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<boolean> {
    try {
      await this.authorizeWith(req, permission, resourceRef, false);
      return true;
    } catch (error) {
      if ((error as Error).name === 'NotAllowedError') {
        return false;
      }
      throw error;
    }
  }

  /** Whether the caller may read a model (`model-hub.model.read`). */
  async canRead(req: Request, entityRef: string): Promise<boolean> {
    return this.access.canRead(await this.credentials(req), entityRef);
  }

  /**
   * Throws `NotFoundError` (404, as for a model that does not exist) unless
   * the caller may read the model.
   */
  async assertReadable(
    req: Request,
    entityRef: string,
    message = `Model ${entityRef} not found`,
  ): Promise<BackstageCredentials> {
    const credentials = await this.credentials(req);
    if (!(await this.access.canRead(credentials, entityRef))) {
      throw new NotFoundError(message);
    }
    return credentials;
  }

  /** The models the caller may read, for the queries of the lists. */
  async readCondition(req: Request): Promise<ModelCondition> {
    return this.access.readCondition(await this.credentials(req));
  }

  /**
   * Runs a mutation as an audited event: the auditor service records its
   * start and its success or failure, and a successful mutation is also
   * written to the hub's own audit trail (in the mutation's transaction
   * when it calls `audit.record`, see {@link AuditTrail}).
   */
  async audited<T>(
    req: Request,
    event: {
      eventId: string;
      severityLevel?: AuditorServiceEventSeverityLevel;
      meta: JsonObject & { modelRef?: string; versionLabel?: string };
    },
    fn: (audit: AuditTrail) => Promise<{
      result: T;
      credentials: BackstageCredentials;
      meta?: JsonObject;
    }>,
  ): Promise<T> {
    const auditorEvent = await this.options.auditor.createEvent({
      eventId: event.eventId,
      severityLevel: event.severityLevel ?? 'medium',
      request: req,
      meta: event.meta,
    });
    let recorded = false;
    const audit: AuditTrail = {
      record: async (tx, actor, meta) => {
        await this.store.addAuditEvent(
          {
            eventId: event.eventId,
            actor,
            modelRef: event.meta.modelRef,
            versionLabel: event.meta.versionLabel,
            meta: { ...event.meta, ...meta },
          },
          tx,
        );
        recorded = true;
      },
    };
    try {
      const { result, credentials, meta } = await fn(audit);
      await auditorEvent.success({ meta });
      if (!recorded) {
        // the change happened: a failing trail row is logged, not a 500
        try {
          await this.store.addAuditEvent({
            eventId: event.eventId,
            actor: principalRef(credentials),
            modelRef: event.meta.modelRef,
            versionLabel: event.meta.versionLabel,
            meta: { ...event.meta, ...meta },
          });
        } catch (error) {
          this.options.logger.error(
            `Writing the audit trail row of ${event.eventId} failed after the change was applied`,
            error as Error,
          );
        }
      }
      return result;
    } catch (error) {
      await auditorEvent.fail({ error: error as Error });
      throw error;
    }
  }

  async requireModel(params: {
    namespace: string;
    name: string;
  }): Promise<HubModel> {
    const ref = modelEntityRef(params.namespace, params.name);
    const model = await this.store.getModel({ entityRef: ref });
    if (!model) {
      throw new NotFoundError(`Model ${ref} not found`);
    }
    return model;
  }

  /** Throws `NotFoundError` for a missing file. */
  async requireFile<T>(file: T | undefined, path: string): Promise<T> {
    if (!file) {
      throw new NotFoundError(`File ${path} not found`);
    }
    return file;
  }

  async requireVersion(model: HubModel, label: string): Promise<HubVersion> {
    const version = await this.store.getVersion({ modelId: model.id, label });
    if (!version) {
      throw new NotFoundError(
        `Version ${label} of model ${model.entityRef} not found`,
      );
    }
    return version;
  }
}
