import { Entity } from '@backstage/catalog-model';
import {
  PermissionCondition,
  PermissionCriteria,
  PermissionRuleParams,
} from '@backstage/plugin-permission-common';
import {
  MODEL_API_VERSION,
  MODEL_KIND,
} from '@internal/plugin-model-hub-common';
import { HubModel } from '../database/types';

/**
 * The catalog entity a hub model will become once the Model Hub entity
 * provider has emitted it: the fields catalog permission rules look at.
 * Used to decide resource permissions on models that were created through
 * the API and are not in the catalog yet.
 */
export function entityOfHubModel(model: HubModel): Entity {
  const owner = model.owner.includes(':')
    ? model.owner
    : `group:${model.namespace}/${model.owner}`;
  return {
    apiVersion: MODEL_API_VERSION,
    kind: MODEL_KIND,
    metadata: {
      name: model.name,
      namespace: model.namespace,
      ...(model.title ? { title: model.title } : {}),
      tags: model.tags,
    },
    spec: {
      type: model.type,
      lifecycle: model.lifecycle,
      owner,
    },
    relations: [{ type: 'ownedBy', targetRef: owner }],
  };
}

type CatalogRule = { name: string; apply: unknown };
let rulesByName: Map<string, CatalogRule> | undefined;

/**
 * The catalog's permission rules, loaded on first use: importing the
 * catalog backend costs a process about 55 MiB, and the rules are only
 * needed for conditional decisions on models not yet in the catalog.
 */
function catalogRules(): Map<string, CatalogRule> {
  if (!rulesByName) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const alpha = require('@backstage/plugin-catalog-backend/alpha') as {
      permissionRules: Record<string, CatalogRule>;
    };
    rulesByName = new Map(
      Object.values(alpha.permissionRules).map(rule => [rule.name, rule]),
    );
  }
  return rulesByName;
}

/**
 * Evaluates the conditions of a conditional catalog-entity decision against
 * an entity, with the catalog's own permission rules. An unknown rule
 * counts as not satisfied, so the evaluation fails closed.
 */
export function entityMatchesConditions(
  entity: Entity,
  criteria: PermissionCriteria<
    PermissionCondition<string, PermissionRuleParams>
  >,
): boolean {
  if ('allOf' in criteria) {
    return criteria.allOf.every(c => entityMatchesConditions(entity, c));
  }
  if ('anyOf' in criteria) {
    return criteria.anyOf.some(c => entityMatchesConditions(entity, c));
  }
  if ('not' in criteria) {
    return !entityMatchesConditions(entity, criteria.not);
  }
  const rule = catalogRules().get(criteria.rule);
  if (!rule || criteria.resourceType !== 'catalog-entity') {
    return false;
  }
  return (rule.apply as (e: Entity, p: unknown) => boolean)(
    entity,
    criteria.params ?? {},
  );
}
