import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
} from '@backstage/plugin-auth-node';
import { AuthenticationError, NotAllowedError } from '@backstage/errors';

/** The request header that names the user to sign in as. */
export const DEV_USER_HEADER = 'x-model-hub-dev-user';

/** The id of the auth provider this module adds. */
export const DEV_HEADER_PROVIDER_ID = 'dev-header';

const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Where the development sign-in may run: what the config and process say. */
export interface DevHeaderAuthEnvironment {
  /** `modelHub.devAuth.enabled` */
  enabled: boolean;
  /** `auth.environment`, as configured (no default) */
  authEnvironment: string | undefined;
  /** `process.env.NODE_ENV` */
  nodeEnv: string | undefined;
}

/**
 * Checks that the development sign-in may run in this process. It is off
 * unless `modelHub.devAuth.enabled` is true (the demo config
 * `app-config.yaml`; `app-config.production.yaml` switches it off), and it
 * refuses to start at all when NODE_ENV is `production` or when
 * `auth.environment` is not explicitly `development`, so a production config
 * cannot switch it on by accident.
 */
export function isDevHeaderAuthEnabled(env: DevHeaderAuthEnvironment): boolean {
  if (!env.enabled) {
    return false;
  }
  if (env.nodeEnv === 'production') {
    throw new Error(
      'modelHub.devAuth.enabled is true while NODE_ENV is production: the development header sign-in is never allowed in production',
    );
  }
  if (env.authEnvironment !== 'development') {
    throw new Error(
      `modelHub.devAuth.enabled is true while auth.environment is ${
        env.authEnvironment === undefined
          ? 'not set'
          : `'${env.authEnvironment}'`
      }: the development header sign-in needs auth.environment: development; set modelHub.devAuth.enabled: false outside development`,
    );
  }
  return true;
}

/**
 * Tells whether a request comes from this machine without a proxy in
 * between: its peer is a loopback address (127.0.0.0/8, ::1, or their
 * IPv4-mapped form) and it carries no forwarding header (a proxy on this
 * machine would make every caller look local).
 */
export function isLoopbackRequest(req: {
  socket?: { remoteAddress?: string };
  headers: Record<string, string | string[] | undefined>;
}): boolean {
  if (
    req.headers['x-forwarded-for'] !== undefined ||
    req.headers.forwarded !== undefined ||
    req.headers['x-real-ip'] !== undefined
  ) {
    return false;
  }
  const address = (req.socket?.remoteAddress ?? '').toLowerCase();
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127(\.\d{1,3}){3}$/.test(v4);
}

/**
 * Development-only sign-in: `GET /api/auth/dev-header/refresh` with the
 * header `x-model-hub-dev-user: alice` answers a Backstage identity (token)
 * for the catalog user `user:default/alice`. The demo's sign-in page and
 * API and browser tests use it to act as each example user against a running
 * backend. It answers only requests from this machine (loopback, no proxy).
 */
export const authModuleDevHeaderProvider = createBackendModule({
  pluginId: 'auth',
  moduleId: 'dev-header-provider',
  register(reg) {
    reg.registerInit({
      deps: {
        providers: authProvidersExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ providers, config, logger }) {
        const enabled = isDevHeaderAuthEnabled({
          enabled:
            config.getOptionalBoolean('modelHub.devAuth.enabled') ?? false,
          authEnvironment: config.getOptionalString('auth.environment'),
          nodeEnv: process.env.NODE_ENV,
        });
        if (!enabled) {
          return;
        }
        logger.warn(
          `Development header sign-in is ENABLED (provider "${DEV_HEADER_PROVIDER_ID}", header ${DEV_USER_HEADER}, loopback callers only); never use this configuration in production`,
        );
        providers.registerProvider({
          providerId: DEV_HEADER_PROVIDER_ID,
          factory: createProxyAuthProviderFactory({
            authenticator: createProxyAuthenticator({
              defaultProfileTransform: async (result: { name: string }) => ({
                profile: { displayName: result.name },
              }),
              initialize: () => ({}),
              async authenticate({ req }) {
                if (!isLoopbackRequest(req)) {
                  throw new NotAllowedError(
                    'The development sign-in answers only requests from this machine',
                  );
                }
                const name = req.header(DEV_USER_HEADER);
                if (!name || !USER_NAME.test(name)) {
                  throw new AuthenticationError(
                    `Missing or malformed ${DEV_USER_HEADER} header`,
                  );
                }
                return { result: { name } };
              },
            }),
            async signInResolver({ result }, ctx) {
              return ctx.signInWithCatalogUser({
                entityRef: { kind: 'User', name: result.name },
              });
            },
          }),
        });
      },
    });
  },
});
