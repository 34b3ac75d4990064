import { mockCredentials } from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import {
  AuthorizeResult,
  ConditionalPolicyDecision,
  createPermission,
  Permission,
} from '@backstage/plugin-permission-common';
import { permissionRules } from '@backstage/plugin-catalog-backend/alpha';
import { BackstageUserInfo } from '@backstage/backend-plugin-api';
import {
  modelHubAdminPermission,
  modelHubArtifactDownloadPermission,
  modelHubArtifactUploadPermission,
  modelHubModelCreatePermission,
  modelHubSyncTriggerPermission,
  modelHubVersionApprovePermission,
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { ModelHubDemoPermissionPolicy } from './permissionPolicy';

const org: Record<string, string[]> = {
  'user:default/alice': ['group:default/ml-engineers'],
  'user:default/bob': ['group:default/ml-reviewers'],
  'user:default/carol': [],
  'user:default/dana': ['group:default/ml-admins'],
};

// As the permission backend does: credentials of the user, and their
// ownership refs (the user plus their groups) through the user info service.
const userInfo = {
  async getUserInfo(credentials: any): Promise<BackstageUserInfo> {
    const ref = credentials.principal.userEntityRef;
    return { userEntityRef: ref, ownershipEntityRefs: [ref, ...org[ref]] };
  },
};
const policy = new ModelHubDemoPermissionPolicy(userInfo);

function userOf(name: string) {
  const ref = `user:default/${name}`;
  return {
    credentials: mockCredentials.user(ref),
    info: { userEntityRef: ref, ownershipEntityRefs: [ref, ...org[ref]] },
  };
}

const decide = (permission: Permission, name?: string) =>
  policy.handle({ permission }, name ? userOf(name) : undefined);

const modelOwnedBy = (owner: string): Entity => ({
  apiVersion: 'model-hub.dev/v1alpha1',
  kind: 'Model',
  metadata: { name: 'llama', namespace: 'default' },
  spec: { type: 'llm', lifecycle: 'production', owner },
  relations: [{ type: 'ownedBy', targetRef: owner }],
});

/** Applies the conditions of a conditional decision to an entity. */
function applies(decision: ConditionalPolicyDecision, entity: Entity) {
  const condition = decision.conditions as any;
  expect(condition.rule).toBe('IS_ENTITY_OWNER');
  return permissionRules.isEntityOwner.apply(entity, condition.params);
}

const catalogRead = createPermission({
  name: 'catalog.entity.read',
  attributes: { action: 'read' },
  resourceType: 'catalog-entity',
});
const catalogCreate = createPermission({
  name: 'catalog.entity.create',
  attributes: { action: 'create' },
});
const catalogDelete = createPermission({
  name: 'catalog.entity.delete',
  attributes: { action: 'delete' },
  resourceType: 'catalog-entity',
});
const templateManagement = createPermission({
  name: 'scaffolder.template.management',
  attributes: {},
});

describe('ModelHubDemoPermissionPolicy', () => {
  it('lets alice upload to models ml-engineers own, and not to others', async () => {
    const decision = await decide(modelHubArtifactUploadPermission, 'alice');
    expect(decision).toEqual({
      result: AuthorizeResult.CONDITIONAL,
      pluginId: 'catalog',
      resourceType: 'catalog-entity',
      conditions: {
        rule: 'IS_ENTITY_OWNER',
        resourceType: 'catalog-entity',
        params: {
          claims: ['user:default/alice', 'group:default/ml-engineers'],
        },
      },
    });
    const conditional = decision as ConditionalPolicyDecision;
    expect(
      applies(conditional, modelOwnedBy('group:default/ml-engineers')),
    ).toBe(true);
    expect(applies(conditional, modelOwnedBy('group:default/other'))).toBe(
      false,
    );
    for (const p of [
      modelHubVersionCreatePermission,
      modelHubSyncTriggerPermission,
    ]) {
      expect((await decide(p, 'alice')).result).toBe(
        AuthorizeResult.CONDITIONAL,
      );
    }
  });

  it('does not let carol upload or create', async () => {
    for (const p of [
      modelHubArtifactUploadPermission,
      modelHubVersionCreatePermission,
      modelHubModelCreatePermission,
      modelHubSyncTriggerPermission,
      modelHubVersionApprovePermission,
      modelHubAdminPermission,
    ]) {
      expect(await decide(p, 'carol')).toEqual({
        result: AuthorizeResult.DENY,
      });
    }
  });

  it('lets bob review and approve, but not upload', async () => {
    expect((await decide(modelHubVersionApprovePermission, 'bob')).result).toBe(
      AuthorizeResult.ALLOW,
    );
    expect((await decide(modelHubVersionReviewPermission, 'bob')).result).toBe(
      AuthorizeResult.ALLOW,
    );
    expect((await decide(modelHubArtifactUploadPermission, 'bob')).result).toBe(
      AuthorizeResult.DENY,
    );
    expect(
      (await decide(modelHubVersionApprovePermission, 'alice')).result,
    ).toBe(AuthorizeResult.DENY);
  });

  it('lets alice create models, and nobody but admins administer', async () => {
    expect((await decide(modelHubModelCreatePermission, 'alice')).result).toBe(
      AuthorizeResult.ALLOW,
    );
    expect((await decide(modelHubAdminPermission, 'alice')).result).toBe(
      AuthorizeResult.DENY,
    );
    expect((await decide(modelHubAdminPermission, 'bob')).result).toBe(
      AuthorizeResult.DENY,
    );
  });

  it('lets dana do everything', async () => {
    for (const p of [
      modelHubAdminPermission,
      modelHubArtifactUploadPermission,
      modelHubVersionApprovePermission,
      catalogDelete,
      templateManagement,
    ]) {
      expect(await decide(p, 'dana')).toEqual({
        result: AuthorizeResult.ALLOW,
      });
    }
  });

  it('lets everyone signed in read and download, and nobody anonymous', async () => {
    for (const name of ['alice', 'bob', 'carol', 'dana']) {
      expect((await decide(catalogRead, name)).result).toBe(
        AuthorizeResult.ALLOW,
      );
      expect(
        (await decide(modelHubArtifactDownloadPermission, name)).result,
      ).toBe(AuthorizeResult.ALLOW);
    }
    expect((await decide(catalogRead)).result).toBe(AuthorizeResult.DENY);
    expect((await decide(modelHubArtifactDownloadPermission)).result).toBe(
      AuthorizeResult.DENY,
    );
  });

  it('gives engineers catalog registration and owner-only deletes', async () => {
    expect((await decide(catalogCreate, 'alice')).result).toBe(
      AuthorizeResult.ALLOW,
    );
    expect((await decide(catalogCreate, 'carol')).result).toBe(
      AuthorizeResult.DENY,
    );
    const del = await decide(catalogDelete, 'alice');
    expect(del.result).toBe(AuthorizeResult.CONDITIONAL);
    expect((await decide(catalogDelete, 'carol')).result).toBe(
      AuthorizeResult.DENY,
    );
    expect((await decide(templateManagement, 'alice')).result).toBe(
      AuthorizeResult.DENY,
    );
  });
});
