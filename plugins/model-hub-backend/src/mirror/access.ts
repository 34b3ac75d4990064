import {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
  HttpAuthService,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import { modelHubArtifactDownloadPermission } from '@internal/plugin-model-hub-common';
import { Request } from 'express';
import { HubModel } from '../database/types';
import { HfError } from './errors';
import { MirrorStore, MirrorTokenWithDecision } from './MirrorStore';
import { hashToken, looksLikePersonalToken } from './tokens';

/** Who calls the mirror. @internal */
export type MirrorCaller =
  | { type: 'anonymous' }
  | { type: 'credentials'; credentials: BackstageCredentials }
  | { type: 'token'; token: MirrorTokenWithDecision };

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

/**
 * Evaluates a conditional decision of the download permission for one model,
 * the way the permission backend does: by asking the plugin that owns the
 * resource type to apply the conditions to the resource.
 *
 * @internal
 */
export type ConditionalDecisionEvaluator = (
  decision: Extract<PolicyDecision, { result: AuthorizeResult.CONDITIONAL }>,
  resourceRef: string,
) => Promise<boolean>;

/**
 * Applies conditions through `/.well-known/backstage/permissions/apply-conditions`
 * of the plugin that owns the resource type (the catalog for `catalog-entity`),
 * with the mirror's own service credentials.
 *
 * @internal
 */
export function createApplyConditionsEvaluator(options: {
  auth: AuthService;
  discovery: DiscoveryService;
}): ConditionalDecisionEvaluator {
  return async (decision, resourceRef) => {
    const baseUrl = await options.discovery.getBaseUrl(decision.pluginId);
    const { token } = await options.auth.getPluginRequestToken({
      onBehalfOf: await options.auth.getOwnServiceCredentials(),
      targetPluginId: decision.pluginId,
    });
    const response = await fetch(
      `${baseUrl}/.well-known/backstage/permissions/apply-conditions`,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({
          items: [
            {
              id: '0',
              resourceRef,
              resourceType: decision.resourceType,
              conditions: decision.conditions,
            },
          ],
        }),
      },
    );
    if (!response.ok) {
      throw new Error(
        `Applying permission conditions through ${decision.pluginId} failed with HTTP ${response.status}`,
      );
    }
    const body = (await response.json()) as {
      items?: { id: string; result: string }[];
    };
    return body.items?.[0]?.result === AuthorizeResult.ALLOW;
  };
}

/** Tokens are marked as used at most this often. */
const TOUCH_INTERVAL_MS = 60_000;

/** How long the result of applying a conditional decision is reused. */
const CONDITION_CACHE_MS = 30_000;

/**
 * Authentication and the download permission of the mirror.
 *
 * The mirror is mounted with an `unauthenticated` auth policy, because Hub
 * clients send `Authorization: Bearer hf_...`, which the Backstage
 * credentials barrier would reject; so every request is authenticated here:
 *
 * - `Bearer hf_...`: a personal access token, looked up by its SHA-256. A
 *   revoked or expired token is refused (401); a token the portal does not
 *   know (Python clients send the user's real Hugging Face token to any
 *   `HF_ENDPOINT`) counts as no credentials.
 * - any other bearer token or cookie: whatever `httpAuth` accepts, i.e.
 *   Backstage user tokens and `backend.auth.externalAccess` tokens.
 * - nothing: anonymous, allowed only with `modelHub.mirror.allowAnonymous`.
 *
 * The download permission (`model-hub.artifact.download` on the model) is
 * checked with the caller's credentials. Backstage cannot mint credentials
 * for a user without the user's token, so a personal token carries the
 * download decision of the policy for its user, taken with the user's own
 * credentials (`authorizeConditional`) when the token is created and again
 * whenever the user lists their tokens. An ALLOW or DENY is used as is; a
 * CONDITIONAL decision (e.g. "owner of the model") is applied to the model
 * on every use through the resource plugin's `apply-conditions` endpoint,
 * exactly as the permission backend resolves it.
 *
 * @internal
 */
export class MirrorAccess {
  private readonly conditionCache = new Map<
    string,
    { allowed: boolean; at: number }
  >();

  constructor(
    private readonly options: {
      httpAuth: HttpAuthService;
      permissions: PermissionsService;
      mirrorStore: MirrorStore;
      logger: LoggerService;
      allowAnonymous: boolean;
      evaluateConditions: ConditionalDecisionEvaluator;
    },
  ) {}

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
      if (
        token.revokedAt ||
        (token.expiresAt && Date.parse(token.expiresAt) <= now)
      ) {
        throw new HfError(
          401,
          undefined,
          `Invalid credentials in Authorization header: the token ${
            token.prefix
          }... is ${token.revokedAt ? 'revoked' : 'expired'}`,
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

  /** Throws a 403 `HfError` unless the caller may download the model. */
  async authorizeDownload(caller: MirrorCaller, model: HubModel) {
    const allowed = await this.canDownload(caller, model.entityRef);
    if (!allowed) {
      throw new HfError(
        403,
        undefined,
        `Access to model ${model.namespace}/${model.name} is restricted: ${modelHubArtifactDownloadPermission.name} is not allowed`,
      );
    }
  }

  private async canDownload(
    caller: MirrorCaller,
    modelRef: string,
  ): Promise<boolean> {
    if (caller.type === 'anonymous') {
      return this.options.allowAnonymous;
    }
    if (caller.type === 'credentials') {
      const [decision] = await this.options.permissions.authorize(
        [
          {
            permission: modelHubArtifactDownloadPermission,
            resourceRef: modelRef,
          },
        ],
        { credentials: caller.credentials },
      );
      return decision.result === AuthorizeResult.ALLOW;
    }
    const decision = caller.token.decision as PolicyDecision;
    if (decision.result === AuthorizeResult.ALLOW) {
      return true;
    }
    if (decision.result !== AuthorizeResult.CONDITIONAL) {
      return false;
    }
    const key = `${caller.token.id}\0${caller.token.decidedAt}\0${modelRef}`;
    const cached = this.conditionCache.get(key);
    if (cached && Date.now() - cached.at < CONDITION_CACHE_MS) {
      return cached.allowed;
    }
    const allowed = await this.options.evaluateConditions(decision, modelRef);
    if (this.conditionCache.size > 10_000) {
      this.conditionCache.clear();
    }
    this.conditionCache.set(key, { allowed, at: Date.now() });
    return allowed;
  }

  /**
   * The download decision of the policy for a user, taken with the user's
   * own credentials, to be stored with their tokens.
   */
  async decideForUser(
    credentials: BackstageCredentials,
  ): Promise<PolicyDecision> {
    const [decision] = await this.options.permissions.authorizeConditional(
      [{ permission: modelHubArtifactDownloadPermission }],
      { credentials },
    );
    return decision;
  }
}
