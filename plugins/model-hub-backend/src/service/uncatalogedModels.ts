import { Entity } from '@backstage/catalog-model';
import {
  PermissionCondition,
  PermissionCriteria,
  PermissionRuleParams,
} from '@backstage/plugin-permission-common';
import {
  MODEL_API_VERSION,
  MODEL_KIND,
} from '@model-hub/backstage-plugin-model-hub-common';
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
      ...(model.description ? { description: model.description } : {}),
      tags: model.tags,
    },
    spec: {
      type: model.type,
      lifecycle: model.lifecycle,
      owner,
      ...(model.task ? { task: model.task } : {}),
      ...(model.format ? { format: model.format } : {}),
      ...(model.license ? { license: model.license } : {}),
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

/** A criteria tree of catalog-entity conditions. @internal */
export type EntityCriteria = PermissionCriteria<
  PermissionCondition<string, PermissionRuleParams>
>;

/**
 * The rules of a criteria tree that cannot be evaluated here: rules the
 * catalog's built-in rules do not know (a portal's own catalog rules) and
 * conditions on another resource type.
 */
export function unknownRules(criteria: EntityCriteria): string[] {
  if ('allOf' in criteria) {
    return criteria.allOf.flatMap(unknownRules);
  }
  if ('anyOf' in criteria) {
    return criteria.anyOf.flatMap(unknownRules);
  }
  if ('not' in criteria) {
    return unknownRules(criteria.not);
  }
  return criteria.resourceType === 'catalog-entity' &&
    catalogRules().has(criteria.rule)
    ? []
    : [`${criteria.resourceType}:${criteria.rule}`];
}

function matches(entity: Entity, criteria: EntityCriteria): boolean {
  if ('allOf' in criteria) {
    return criteria.allOf.every(c => matches(entity, c));
  }
  if ('anyOf' in criteria) {
    return criteria.anyOf.some(c => matches(entity, c));
  }
  if ('not' in criteria) {
    return !matches(entity, criteria.not);
  }
  const rule = catalogRules().get(criteria.rule)!;
  return (rule.apply as (e: Entity, p: unknown) => boolean)(
    entity,
    criteria.params ?? {},
  );
}

/**
 * Evaluates the conditions of a conditional catalog-entity decision against
 * an entity, with the catalog's own permission rules. It fails closed: a
 * tree that holds an unknown rule or another resource type anywhere (also
 * under a `not`) is not satisfied, and neither is one whose rule throws on
 * its parameters.
 */
export function entityMatchesConditions(
  entity: Entity,
  criteria: EntityCriteria,
): boolean {
  if (unknownRules(criteria).length > 0) {
    return false;
  }
  try {
    return matches(entity, criteria);
  } catch {
    return false;
  }
}
