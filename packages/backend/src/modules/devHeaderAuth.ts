import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
} from '@backstage/plugin-auth-node';
import { AuthenticationError } from '@backstage/errors';

/** The request header that names the user to sign in as. */
export const DEV_USER_HEADER = 'x-model-hub-dev-user';

/** The id of the auth provider this module adds. */
export const DEV_HEADER_PROVIDER_ID = 'dev-header';

const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Checks that the development sign-in may run in this process. It is off
 * unless `modelHub.devAuth.enabled` is true (set only by
 * `app-config.e2e.yaml`), and it refuses to start at all when NODE_ENV is
 * `production`, so a production config cannot switch it on by accident.
 */
export function isDevHeaderAuthEnabled(
  enabled: boolean,
  nodeEnv: string | undefined,
): boolean {
  if (!enabled) {
    return false;
  }
  if (nodeEnv === 'production') {
    throw new Error(
      'modelHub.devAuth.enabled is true while NODE_ENV is production: the development header sign-in is never allowed in production',
    );
  }
  return true;
}

/**
 * Development-only sign-in: `GET /api/auth/dev-header/refresh` with the
 * header `x-model-hub-dev-user: alice` answers a Backstage identity (token)
 * for the catalog user `user:default/alice`. API and browser tests use it
 * to act as each example user against a running backend.
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
        const enabled = isDevHeaderAuthEnabled(
          config.getOptionalBoolean('modelHub.devAuth.enabled') ?? false,
          process.env.NODE_ENV,
        );
        if (!enabled) {
          return;
        }
        logger.warn(
          `Development header sign-in is ENABLED (provider "${DEV_HEADER_PROVIDER_ID}", header ${DEV_USER_HEADER}); never use this configuration in production`,
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
