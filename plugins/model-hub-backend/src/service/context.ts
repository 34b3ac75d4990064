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
import { modelEntityRef } from '../database/DatabaseModelHubStore';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel, HubVersion } from '../database/types';
import { ArtifactStore } from '../store/ArtifactStore';
import type { ApprovalsService } from '../approvals/ApprovalsService';
import { entityMatchesConditions, entityOfHubModel } from './uncatalogedModels';

/** JSON metadata of an audit event. */
type JsonObject = NonNullable<
  Parameters<AuditorService['createEvent']>[0]['meta']
>;

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
  /** The approvals workflow; its routes answer 503 without it. */
  /** Deletes and metadata edits; their routes answer 503 without it. */
  lifecycle?: import('../lifecycle/ModelLifecycleStore').ModelLifecycleStore;
  /** The catalog to hub reconcile; its routes answer 503 without it. */
  catalogSync?: import('../catalogSync/CatalogModelSync').CatalogModelSync;
  approvals?: ApprovalsService;
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
 * The shared helpers of the route handlers: credentials, the single
 * `authorize` function (style guide 31), auditing, and lookups that throw
 * `NotFoundError`.
 *
 * @internal
 */
export class RouteContext {
  constructor(readonly options: RouterOptions) {}

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
   * on the catalog entity ref of a model; throws `NotAllowedError` (403)
   * unless allowed.
   */
  async authorize(
    req: Request,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<BackstageCredentials> {
    const credentials = await this.credentials(req);
    const request =
      permission.type === 'resource'
        ? { permission, resourceRef: resourceRef! }
        : { permission: permission as BasicPermission };
    const [decision] = await this.options.permissions.authorize([request], {
      credentials,
    });
    if (
      decision.result !== AuthorizeResult.ALLOW &&
      !(await this.allowedOnUncatalogedModel(
        credentials,
        permission,
        resourceRef,
      ))
    ) {
      throw new NotAllowedError(
        `Not allowed: ${permission.name}${
          resourceRef ? ` on ${resourceRef}` : ''
        }`,
      );
    }
    return credentials;
  }

  /**
   * A model created through the API is in the catalog only once the Model
   * Hub entity provider has emitted it, and the permission backend resolves
   * conditional catalog decisions (e.g. "owners of the model may upload")
   * through the catalog, so until then they come back DENY. For such a model
   * the policy's conditions are evaluated here, with the catalog's own rules,
   * against the entity the provider will emit from the hub's row.
   */
  private async allowedOnUncatalogedModel(
    credentials: BackstageCredentials,
    permission: BasicPermission | ResourcePermission,
    resourceRef: string | undefined,
  ): Promise<boolean> {
    if (permission.type !== 'resource' || !resourceRef) {
      return false;
    }
    const model = await this.store.getModel({ entityRef: resourceRef });
    if (!model) {
      return false;
    }
    const inCatalog = await this.options.catalog.getEntityByRef(resourceRef, {
      credentials: await this.options.auth.getOwnServiceCredentials(),
    });
    if (inCatalog) {
      return false;
    }
    const decisions = await this.options.permissions.authorizeConditional(
      [{ permission: permission as ResourcePermission }],
      { credentials },
    );
    const conditional = decisions?.[0];
    if (conditional?.result === AuthorizeResult.ALLOW) {
      return true;
    }
    return (
      conditional?.result === AuthorizeResult.CONDITIONAL &&
      entityMatchesConditions(entityOfHubModel(model), conditional.conditions)
    );
  }

  /** Whether the caller holds a permission, without throwing. */
  async isAllowed(
    req: Request,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<boolean> {
    try {
      await this.authorize(req, permission, resourceRef);
      return true;
    } catch (error) {
      if ((error as Error).name === 'NotAllowedError') {
        return false;
      }
      throw error;
    }
  }

  /**
   * Runs a mutation as an audited event: the auditor service records its
   * start and its success or failure, and a successful mutation is also
   * written to the hub's own audit trail.
   */
  async audited<T>(
    req: Request,
    event: {
      eventId: string;
      severityLevel?: AuditorServiceEventSeverityLevel;
      meta: JsonObject & { modelRef?: string; versionLabel?: string };
    },
    fn: () => Promise<{
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
    try {
      const { result, credentials, meta } = await fn();
      await auditorEvent.success({ meta });
      await this.store.addAuditEvent({
        eventId: event.eventId,
        actor: principalRef(credentials),
        modelRef: event.meta.modelRef,
        versionLabel: event.meta.versionLabel,
        meta: { ...event.meta, ...meta },
      });
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
