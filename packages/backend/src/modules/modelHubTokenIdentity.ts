import {
  coreServices,
  createBackendModule,
  HttpAuthService,
} from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { InputError, NotAllowedError } from '@backstage/errors';
import {
  AuthProviderFactory,
  authProvidersExtensionPoint,
} from '@backstage/plugin-auth-node';
import { MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID } from '@model-hub/backstage-plugin-model-hub-backend';

/** The only caller the provider answers: the Model Hub backend. */
const MODEL_HUB_SUBJECT = 'plugin:model-hub';

/**
 * The provider: `POST /api/auth/model-hub-token-identity/refresh?entityRef=`
 * signs in a catalog user for the Model Hub backend and answers
 * `{ token }`, the Backstage token a sign-in of that user would get (the
 * user and the groups the catalog has for them now). It answers only to the
 * Model Hub backend's service token; browsers get nothing from it.
 */
export function createModelHubTokenIdentityProviderFactory(options: {
  httpAuth: HttpAuthService;
}): AuthProviderFactory {
  return ({ resolverContext }) => {
    const refuse = async () => {
      throw new NotAllowedError(
        `The ${MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID} provider has no sign-in flow`,
      );
    };
    return {
      start: refuse,
      frameHandler: refuse,
      async refresh(req, res) {
        const credentials = await options.httpAuth.credentials(req, {
          allow: ['service'],
        });
        if (credentials.principal.subject !== MODEL_HUB_SUBJECT) {
          throw new NotAllowedError(
            `Only ${MODEL_HUB_SUBJECT} may sign in token owners`,
          );
        }
        const raw = req.query.entityRef;
        let entityRef: string;
        try {
          if (typeof raw !== 'string') {
            throw new Error('missing');
          }
          const ref = parseEntityRef(raw);
          if (ref.kind.toLocaleLowerCase('en-US') !== 'user') {
            throw new Error('not a user');
          }
          entityRef = stringifyEntityRef(ref);
        } catch {
          throw new InputError(
            'entityRef must be a user entity ref, e.g. user:default/alice',
          );
        }
        // throws NotFoundError when the user is no longer in the catalog
        const { token } = await resolverContext.signInWithCatalogUser({
          entityRef,
        });
        res.setHeader('Cache-Control', 'no-store');
        res.json({ token });
      },
    };
  };
}

/**
 * Lets personal access tokens (`hf_...`) of the Model Hub mirror act as
 * their owners: the Model Hub backend asks this provider to sign the owner
 * in (at most once a minute per owner), and takes permission decisions with
 * those credentials, so the policy, the owner's groups and their removal
 * from the catalog apply to their tokens. Needs
 * `auth.providers.model-hub-token-identity: {}` in the config.
 */
export const authModuleModelHubTokenIdentity = createBackendModule({
  pluginId: 'auth',
  moduleId: 'model-hub-token-identity',
  register(reg) {
    reg.registerInit({
      deps: {
        providers: authProvidersExtensionPoint,
        httpAuth: coreServices.httpAuth,
      },
      async init({ providers, httpAuth }) {
        providers.registerProvider({
          providerId: MODEL_HUB_TOKEN_IDENTITY_PROVIDER_ID,
          factory: createModelHubTokenIdentityProviderFactory({ httpAuth }),
        });
      },
    });
  },
});
