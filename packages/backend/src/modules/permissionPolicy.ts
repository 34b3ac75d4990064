import {
  coreServices,
  createBackendModule,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';

/** The groups of the example org, as entity refs. */
export const DEMO_GROUPS = {
  engineers: 'group:default/ml-engineers',
  reviewers: 'group:default/ml-reviewers',
  admins: 'group:default/ml-admins',
} as const;

/** Permissions that change nothing, for everyone signed in. */
const HARMLESS_PERMISSIONS = new Set([
  'catalog.entity.refresh',
  'catalog.entity.validate',
  'catalog.location.analyze',
]);

/** Model Hub permissions that engineers hold on the models their groups own. */
const OWNER_PERMISSIONS = new Set([
  'model-hub.version.create',
  'model-hub.artifact.upload',
  'model-hub.sync.trigger',
  'model-hub.deploy',
]);

/** Model Hub permissions of the reviewers, on every model. */
const REVIEWER_PERMISSIONS = new Set([
  'model-hub.version.review',
  'model-hub.version.approve',
]);

/**
 * The permission policy of the Model Hub demo portal, for its example org:
 *
 * - `ml-admins` (dana) may do everything;
 * - `ml-engineers` (alice) create models, and create versions, upload,
 *   sync and deploy (GPU workloads) on the models their group owns (a conditional decision on catalog
 *   ownership); they register catalog entities, delete the ones they own and
 *   run templates (but do not manage them);
 * - `ml-reviewers` (bob) review and approve versions of every model;
 * - everyone signed in (carol too) reads the catalog and downloads models;
 * - everything else is denied.
 */
export class ModelHubDemoPermissionPolicy implements PermissionPolicy {
  constructor(
    private readonly userInfo: Pick<UserInfoService, 'getUserInfo'>,
  ) {}

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    if (!user) {
      return { result: AuthorizeResult.DENY };
    }
    const { ownershipEntityRefs } = await this.userInfo.getUserInfo(
      user.credentials,
    );
    const memberOf = (group: string) => ownershipEntityRefs.includes(group);
    const { name, attributes } = request.permission;

    if (memberOf(DEMO_GROUPS.admins)) {
      return { result: AuthorizeResult.ALLOW };
    }

    const ownedByUser = (): PolicyDecision =>
      isResourcePermission(request.permission, 'catalog-entity')
        ? createCatalogConditionalDecision(
            request.permission,
            catalogConditions.isEntityOwner({ claims: ownershipEntityRefs }),
          )
        : { result: AuthorizeResult.DENY };

    // Model Hub: everyone signed in reads and downloads.
    //
    // To restrict reading, return a catalog condition instead of ALLOW: the
    // hub hides (404) every model the condition rejects, on every route and
    // in every list, and applies it in the list's query. For example, only
    // the models a user's groups own, plus the production ones:
    //
    //   if (name === 'model-hub.model.read') {
    //     return createCatalogConditionalDecision(request.permission as any, {
    //       anyOf: [
    //         catalogConditions.isEntityOwner({ claims: ownershipEntityRefs }),
    //         catalogConditions.hasSpec({ key: 'lifecycle', value: 'production' }),
    //       ],
    //     });
    //   }
    //
    // Conditions on owner, kind, type, lifecycle, task, format, license,
    // name, namespace, title, description and tags are translated into SQL;
    // others (annotations, labels, a portal's own rules) are resolved model
    // by model through the catalog. A model the catalog hides
    // (`catalog.entity.read`) is hidden by the hub too.
    if (
      name === 'model-hub.model.read' ||
      name === 'model-hub.artifact.download'
    ) {
      return { result: AuthorizeResult.ALLOW };
    }
    if (name === 'model-hub.model.create') {
      return {
        result: memberOf(DEMO_GROUPS.engineers)
          ? AuthorizeResult.ALLOW
          : AuthorizeResult.DENY,
      };
    }
    if (OWNER_PERMISSIONS.has(name)) {
      return memberOf(DEMO_GROUPS.engineers)
        ? ownedByUser()
        : { result: AuthorizeResult.DENY };
    }
    if (REVIEWER_PERMISSIONS.has(name)) {
      return {
        result: memberOf(DEMO_GROUPS.reviewers)
          ? AuthorizeResult.ALLOW
          : AuthorizeResult.DENY,
      };
    }
    if (name.startsWith('model-hub.')) {
      return { result: AuthorizeResult.DENY };
    }

    // The rest of the portal: everyone reads; engineers change what they own.
    if (attributes.action === 'read' || HARMLESS_PERMISSIONS.has(name)) {
      return { result: AuthorizeResult.ALLOW };
    }
    if (memberOf(DEMO_GROUPS.engineers)) {
      if (
        name === 'catalog.entity.create' ||
        name === 'catalog.location.create' ||
        (name.startsWith('scaffolder.') &&
          name !== 'scaffolder.template.management')
      ) {
        return { result: AuthorizeResult.ALLOW };
      }
      if (name === 'catalog.entity.delete') {
        return ownedByUser();
      }
    }
    return { result: AuthorizeResult.DENY };
  }
}

/** Installs {@link ModelHubDemoPermissionPolicy} in the permission backend. */
export const permissionModuleModelHubDemoPolicy = createBackendModule({
  pluginId: 'permission',
  moduleId: 'model-hub-demo-policy',
  register(reg) {
    reg.registerInit({
      deps: {
        policy: policyExtensionPoint,
        userInfo: coreServices.userInfo,
      },
      async init({ policy, userInfo }) {
        policy.setPolicy(new ModelHubDemoPermissionPolicy(userInfo));
      },
    });
  },
});
