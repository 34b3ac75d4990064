import {
  AuditorService,
  BackstageCredentials,
  HttpAuthService,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  BasicPermission,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import {
  modelHubModelReadPermission,
  modelHubArtifactDownloadPermission,
  modelHubModelCreatePermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { Request } from 'express';
import {
  DownloadAuthorizer,
  DownloadCaller,
} from '../approvals/downloadAuthorizer';
import { HubModel } from '../database/types';
import type { ModelAccess } from '../service/modelAccess';
import { HfError, repoNotFound } from './errors';
import { MirrorStore, MirrorToken } from './MirrorStore';
import { TokenOwnerCredentials } from './tokenIdentity';
import { hashToken, looksLikePersonalToken } from './tokens';

/** Who calls the mirror. @internal */
export type MirrorCaller =
  | { type: 'anonymous' }
  | { type: 'credentials'; credentials: BackstageCredentials }
  | { type: 'token'; token: MirrorToken };

/** The entity ref of a caller (user or service), if it has one. @internal */
export function callerRef(caller: MirrorCaller): string | undefined {
  if (caller.type === 'token') {
    return caller.token.userEntityRef;
  }
  if (caller.type === 'credentials') {
    const p = caller.credentials.principal as {
      userEntityRef?: string;
      subject?: string;
    };
    return p.userEntityRef ?? p.subject;
  }
  return undefined;
}

/** Tokens are marked as used at most this often. */
const TOUCH_INTERVAL_MS = 60_000;

/** The longest a token owner's credentials and decisions are reused. */
export const MAX_TOKEN_DECISION_CACHE_MS = 60_000;

/** Token owners whose credentials are kept at the same time, at most. */
const MAX_CACHED_OWNERS = 10_000;

/** The signed-in owner of tokens, and the decisions taken for them. */
type OwnerEntry = {
  credentials: Promise<BackstageCredentials>;
  /** When the owner was signed in; the entry is dropped `ttl` later. */
  at: number;
  decisions: Map<string, Promise<boolean>>;
};

/**
 * Authentication and the permissions of the mirror.
 *
 * The mirror is mounted with an `unauthenticated` auth policy, because Hub
 * clients send `Authorization: Bearer hf_...`, which the Backstage
 * credentials barrier would reject; so every request is authenticated here:
 *
 * - `Bearer hf_...`: a personal access token, looked up by its SHA-256. A
 *   revoked or expired token is refused (401); a token the portal does not
 *   know (Python clients send the user's real Hugging Face token to any
 *   `HF_ENDPOINT`) counts as no credentials. Every use is audited by token
 *   id (`mirror-token-use`).
 * - any other bearer token or cookie: whatever `httpAuth` accepts, i.e.
 *   Backstage user tokens and `backend.auth.externalAccess` tokens.
 * - nothing: anonymous, allowed only with `modelHub.mirror.allowAnonymous`.
 *
 * Permissions are decided by the permission framework with the caller's
 * credentials. A personal token acts as its owner: the owner is signed in
 * through the auth backend (which resolves the user and their groups in the
 * catalog, as a sign-in does) and the decision is taken with those
 * credentials; both are reused for at most `decisionCacheMs` (60 s), so a
 * change of the policy, of the owner's groups or of the catalog applies to
 * the token within that time.
 *
 * @internal
 */
export class MirrorAccess {
  private readonly owners = new Map<string, OwnerEntry>();
  private readonly downloads: DownloadAuthorizer;

  constructor(
    private readonly options: {
      httpAuth: HttpAuthService;
      permissions: PermissionsService;
      auditor: AuditorService;
      mirrorStore: MirrorStore;
      logger: LoggerService;
      allowAnonymous: boolean;
      /** Signs in the owner of a token. */
      tokenOwnerCredentials: TokenOwnerCredentials;
      /** How long an owner's credentials and decisions are reused. */
      decisionCacheMs: number;
      /**
       * The hub's decision path of resource permissions on models (the
       * same answers as the REST API); without it, `authorize` with the
       * resource ref.
       */
      modelAccess?: Pick<ModelAccess, 'decide' | 'canRead'>;
      /**
       * The download authorizer of the hub (the approvals workflow's, shared
       * with the REST API); one with the default policy when not given.
       */
      downloads?: DownloadAuthorizer;
    },
  ) {
    this.downloads = options.downloads ?? new DownloadAuthorizer();
  }

  /** Identifies the caller; throws a 401 `HfError` for bad credentials. */
  async authenticate(req: Request): Promise<MirrorCaller> {
    const header = req.headers.authorization;
    const bearer =
      header && /^bearer\s+/i.test(header)
        ? header.replace(/^bearer\s+/i, '').trim()
        : undefined;
    if (bearer && bearer.startsWith('hf_')) {
      const token = looksLikePersonalToken(bearer)
        ? await this.options.mirrorStore.getTokenByHash(hashToken(bearer))
        : undefined;
      if (!token) {
        // not one of ours (e.g. a real Hugging Face token): no credentials
        return this.anonymous();
      }
      const now = Date.now();
      let refused: 'revoked' | 'expired' | undefined;
      if (token.revokedAt) {
        refused = 'revoked';
      } else if (token.expiresAt && Date.parse(token.expiresAt) <= now) {
        refused = 'expired';
      }
      await this.auditTokenUse(req, token, refused);
      if (refused) {
        throw new HfError(
          401,
          undefined,
          `Invalid credentials in Authorization header: the token ${token.prefix}... is ${refused}`,
        );
      }
      if (
        !token.lastUsedAt ||
        now - Date.parse(token.lastUsedAt) > TOUCH_INTERVAL_MS
      ) {
        await this.options.mirrorStore.touchToken({
          id: token.id,
          at: new Date(now),
        });
      }
      return { type: 'token', token };
    }
    let credentials: BackstageCredentials;
    try {
      credentials = await this.options.httpAuth.credentials(req, {
        allow: ['user', 'service', 'none'],
        allowLimitedAccess: true,
      });
    } catch (error) {
      throw new HfError(
        401,
        undefined,
        `Invalid credentials in Authorization header: ${
          (error as Error).message
        }`,
      );
    }
    const principal = credentials.principal as { type: string };
    if (principal.type === 'none') {
      return this.anonymous();
    }
    return { type: 'credentials', credentials };
  }

  /** Records one use of a personal token, by its id, never its secret. */
  private async auditTokenUse(
    req: Request,
    token: MirrorToken,
    refused: string | undefined,
  ) {
    const event = await this.options.auditor.createEvent({
      eventId: 'mirror-token-use',
      severityLevel: 'low',
      meta: {
        tokenId: token.id,
        userEntityRef: token.userEntityRef,
        method: req.method,
        path: req.path,
      },
    });
    if (refused) {
      await event.fail({ error: new Error(`token ${refused}`) });
    } else {
      await event.success();
    }
  }

  private anonymous(): MirrorCaller {
    if (!this.options.allowAnonymous) {
      throw new HfError(
        401,
        'RepoNotFound',
        'Authentication required: set HF_TOKEN to a Model Hub access token',
      );
    }
    return { type: 'anonymous' };
  }

  /**
   * Throws unless the caller may download the files of the model, by the one
   * download authorizer of the hub (shared with the REST API): a 404
   * `RepoNotFound` when the caller may not read the model (a hidden model
   * is not there for the caller), a 403 without
   * `model-hub.artifact.download`. Anonymous callers pass when
   * `modelHub.mirror.allowAnonymous` is set.
   */
  async authorizeModel(caller: MirrorCaller, model: HubModel, repoId: string) {
    const denial = await this.downloads.check(
      this.downloadCaller(caller),
      model,
    );
    if (denial?.reason === 'hidden') {
      throw repoNotFound(repoId);
    }
    if (denial) {
      throw new HfError(
        403,
        undefined,
        `Access to model ${model.namespace}/${model.name} is restricted: ${modelHubArtifactDownloadPermission.name} is not allowed`,
      );
    }
  }

  /** A mirror caller as the download authorizer sees it. */
  private downloadCaller(caller: MirrorCaller): DownloadCaller {
    return {
      anonymous: caller.type === 'anonymous' && this.options.allowAnonymous,
      canRead: ref => this.isAllowed(caller, modelHubModelReadPermission, ref),
      isAllowed: (permission, ref) => this.isAllowed(caller, permission, ref),
      // the mirror serves released versions only, for which nobody's
      // ownership is asked
      ownershipRefs: async () => [],
    };
  }

  /** Whether the caller may create models (pull-through registers one). */
  async canCreateModels(caller: MirrorCaller): Promise<boolean> {
    return this.isAllowed(caller, modelHubModelCreatePermission);
  }

  private async isAllowed(
    caller: MirrorCaller,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<boolean> {
    if (caller.type === 'anonymous') {
      return false;
    }
    if (caller.type === 'credentials') {
      return this.decide(caller.credentials, permission, resourceRef);
    }
    const owner = this.ownerEntry(caller.token.userEntityRef);
    const key = `${permission.name}\0${resourceRef ?? ''}`;
    let decision = owner.decisions.get(key);
    if (!decision) {
      decision = owner.credentials.then(
        credentials => this.decide(credentials, permission, resourceRef),
        () => false,
      );
      owner.decisions.set(key, decision);
      // an error is not cached as a decision
      decision.catch(() => owner.decisions.delete(key));
    }
    return decision;
  }

  private async decide(
    credentials: BackstageCredentials,
    permission: BasicPermission | ResourcePermission,
    resourceRef?: string,
  ): Promise<boolean> {
    const modelAccess = this.options.modelAccess;
    if (permission.type === 'resource' && modelAccess) {
      return permission.name === modelHubModelReadPermission.name
        ? modelAccess.canRead(credentials, resourceRef!)
        : modelAccess.decide(
            credentials,
            [permission as ResourcePermission],
            resourceRef!,
          );
    }
    const request =
      permission.type === 'resource'
        ? { permission, resourceRef: resourceRef! }
        : { permission: permission as BasicPermission };
    const [decision] = await this.options.permissions.authorize([request], {
      credentials,
    });
    return decision.result === AuthorizeResult.ALLOW;
  }

  /**
   * The signed-in owner of a token, reused for `decisionCacheMs` from the
   * sign-in; an owner who can no longer be signed in (removed from the
   * catalog, ...) is allowed nothing, and is tried again on the next use.
   */
  private ownerEntry(userEntityRef: string): OwnerEntry {
    const now = Date.now();
    const cached = this.owners.get(userEntityRef);
    if (cached && now - cached.at < this.options.decisionCacheMs) {
      return cached;
    }
    if (this.owners.size >= MAX_CACHED_OWNERS) {
      for (const [ref, entry] of this.owners) {
        if (now - entry.at >= this.options.decisionCacheMs) {
          this.owners.delete(ref);
        }
      }
      if (this.owners.size >= MAX_CACHED_OWNERS) {
        this.owners.clear();
      }
    }
    const entry: OwnerEntry = {
      at: now,
      decisions: new Map(),
      credentials: this.options.tokenOwnerCredentials(userEntityRef),
    };
    entry.credentials.catch(error => {
      this.options.logger.warn(
        `The owner ${userEntityRef} of a personal access token could not be signed in; the token is allowed nothing: ${
          (error as Error).message
        }`,
      );
      if (this.owners.get(userEntityRef) === entry) {
        this.owners.delete(userEntityRef);
      }
    });
    this.owners.set(userEntityRef, entry);
    return entry;
  }
}
