import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import { modelHubArtifactUploadPermission } from '@model-hub/backstage-plugin-model-hub-common';
import { HubModel } from '../database/types';
import { entityMatchesConditions, entityOfHubModel } from './uncatalogedModels';

const model: HubModel = {
  id: 'm1',
  entityRef: 'model:default/new-model',
  namespace: 'default',
  name: 'new-model',
  type: 'llm',
  lifecycle: 'experimental',
  owner: 'group:default/ml-engineers',
  sourceType: 'upload',
  tags: ['chat'],
  createdBy: 'user:default/alice',
  createdAt: '2026-11-25T00:00:00Z',
  updatedAt: '2026-11-25T00:00:00Z',
};

const ownedBy = (claims: string[]) => {
  const decision = createCatalogConditionalDecision(
    modelHubArtifactUploadPermission,
    catalogConditions.isEntityOwner({ claims }),
  );
  expect(decision.result).toBe(AuthorizeResult.CONDITIONAL);
  return decision.conditions;
};

describe('entityOfHubModel', () => {
  it('builds the Model entity the provider will emit, with its owner relation', () => {
    expect(entityOfHubModel(model)).toEqual({
      apiVersion: 'model-hub.dev/v1alpha1',
      kind: 'Model',
      metadata: { name: 'new-model', namespace: 'default', tags: ['chat'] },
      spec: {
        type: 'llm',
        lifecycle: 'experimental',
        owner: 'group:default/ml-engineers',
      },
      relations: [{ type: 'ownedBy', targetRef: 'group:default/ml-engineers' }],
    });
  });

  it('completes a bare owner name to a group ref', () => {
    expect(entityOfHubModel({ ...model, owner: 'ml-admins' }).spec!.owner).toBe(
      'group:default/ml-admins',
    );
  });
});

describe('entityMatchesConditions', () => {
  const entity = entityOfHubModel(model);

  it('applies the catalog ownership rule', () => {
    expect(
      entityMatchesConditions(
        entity,
        ownedBy(['user:default/alice', 'group:default/ml-engineers']),
      ),
    ).toBe(true);
    expect(
      entityMatchesConditions(entity, ownedBy(['user:default/carol'])),
    ).toBe(false);
  });

  it('combines criteria', () => {
    const yes = ownedBy(['group:default/ml-engineers']);
    const no = ownedBy(['group:default/other']);
    expect(entityMatchesConditions(entity, { allOf: [yes, no] })).toBe(false);
    expect(entityMatchesConditions(entity, { anyOf: [yes, no] })).toBe(true);
    expect(entityMatchesConditions(entity, { not: no })).toBe(true);
  });

  it('fails closed on an unknown rule or another resource type', () => {
    expect(
      entityMatchesConditions(entity, {
        rule: 'NO_SUCH_RULE',
        resourceType: 'catalog-entity',
        params: {},
      }),
    ).toBe(false);
    expect(
      entityMatchesConditions(entity, {
        rule: 'IS_ENTITY_OWNER',
        resourceType: 'other',
        params: { claims: ['group:default/ml-engineers'] },
      }),
    ).toBe(false);
  });
});

describe('entityMatchesConditions fails closed under not', () => {
  const entity = entityOfHubModel(model);
  const unknown = {
    rule: 'NO_SUCH_RULE',
    resourceType: 'catalog-entity',
    params: {},
  };

  it('denies a not around an unknown rule, at any depth', () => {
    expect(entityMatchesConditions(entity, { not: unknown })).toBe(false);
    expect(
      entityMatchesConditions(entity, { not: { not: { not: unknown } } }),
    ).toBe(false);
    expect(
      entityMatchesConditions(entity, {
        anyOf: [ownedBy(['group:default/ml-engineers']), { not: unknown }],
      }),
    ).toBe(false);
    expect(
      entityMatchesConditions(entity, {
        not: {
          rule: 'IS_ENTITY_OWNER',
          resourceType: 'other',
          params: { claims: ['x'] },
        },
      }),
    ).toBe(false);
  });

  it('denies a known rule with malformed parameters', () => {
    expect(
      entityMatchesConditions(entity, {
        not: {
          rule: 'IS_ENTITY_OWNER',
          resourceType: 'catalog-entity',
          params: {},
        },
      }),
    ).toBe(false);
  });
});
