import {
  AuthService,
  BackstageCredentials,
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { Entity, RELATION_OWNED_BY } from '@backstage/catalog-model';
import {
  AuthorizeResult,
  createPermission,
  PolicyDecision,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  MODEL_HUB_MODEL_RESOURCE_TYPE,
  modelHubModelReadPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import { ModelHubStore } from '../database/ModelHubStore';
import { ModelColumn, ModelCondition } from '../database/modelReadFilter';
import { HubModel } from '../database/types';
import {
  EntityCriteria,
  entityMatchesConditions,
  entityOfHubModel,
  unknownRules,
} from './uncatalogedModels';

/**
 * The catalog's read permission (`@backstage/plugin-catalog-common`): a
 * model the catalog hides from a user is hidden by the hub too.
 */
export const catalogEntityReadPermission = createPermission({
  name: 'catalog.entity.read',
  attributes: { action: 'read' },
  resourceType: 'catalog-entity',
});

/** What a model is read as: `model-hub.model.read` and `catalog.entity.read`. */
export const MODEL_READ_PERMISSIONS: ResourcePermission[] = [
  modelHubModelReadPermission as ResourcePermission,
  catalogEntityReadPermission as ResourcePermission,
];

/**
 * The policy's answer for one or more permissions, before it is applied to a
 * model: `true` (allowed), `false` (denied) or the criteria every model must
 * satisfy (the conditions of each conditional decision, all of them).
 */
type Decision = boolean | EntityCriteria;

/** The entity a decision is taken on, and where it comes from. */
type DecisionEntity = { entity: Entity; source: 'catalog' | 'hub' };

const SPEC_COLUMNS: Record<string, ModelColumn> = {
  type: 'type',
  lifecycle: 'lifecycle',
  task: 'task',
  format: 'format',
  license: 'license',
};
const METADATA_COLUMNS: Record<string, ModelColumn> = {
  name: 'name',
  namespace: 'namespace',
  title: 'title',
  description: 'description',
};

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(v => typeof v === 'string');
}

/**
 * Translates catalog-entity conditions into a condition on the hub's rows,
 * for the rules whose data the hub row holds as the catalog holds it (the
 * entity provider emits it from the row, and catalog-defined models are
 * reconciled into it): kind, owner, type, lifecycle, task, format, license,
 * name, namespace, title, description, tags. Anything else (annotations,
 * labels, a portal's own rules) answers `undefined`.
 *
 * @internal
 */
export function conditionOfCriteria(
  criteria: EntityCriteria,
): ModelCondition | undefined {
  if ('allOf' in criteria || 'anyOf' in criteria) {
    const list = 'allOf' in criteria ? criteria.allOf : criteria.anyOf;
    const items = list.map(conditionOfCriteria);
    if (items.some(i => i === undefined)) {
      return undefined;
    }
    return {
      op: 'allOf' in criteria ? 'and' : 'or',
      items: items as ModelCondition[],
    };
  }
  if ('not' in criteria) {
    const item = conditionOfCriteria(criteria.not);
    return item && { op: 'not', item };
  }
  if (criteria.resourceType !== 'catalog-entity') {
    return undefined;
  }
  const params = (criteria.params ?? {}) as Record<string, unknown>;
  const lower = (v: string) => v.toLocaleLowerCase('en-US');
  switch (criteria.rule) {
    case 'IS_ENTITY_KIND':
      if (!isStringArray(params.kinds)) {
        return undefined;
      }
      return params.kinds.some(k => lower(k) === 'model')
        ? { op: 'all' }
        : { op: 'none' };
    case 'IS_ENTITY_OWNER':
      if (!isStringArray(params.claims)) {
        return undefined;
      }
      return { op: 'in', column: 'owner', values: params.claims.map(lower) };
    case 'HAS_SPEC':
    case 'HAS_METADATA': {
      const { key, value } = params;
      if (
        typeof key !== 'string' ||
        (value !== undefined && typeof value !== 'string')
      ) {
        return undefined;
      }
      const k = lower(key);
      if (criteria.rule === 'HAS_METADATA' && k === 'tags') {
        return value === undefined
          ? { op: 'tag' }
          : { op: 'tag', values: [lower(value)] };
      }
      const column = (
        criteria.rule === 'HAS_SPEC' ? SPEC_COLUMNS : METADATA_COLUMNS
      )[k];
      if (!column) {
        return undefined;
      }
      return value === undefined
        ? { op: 'present', column }
        : { op: 'in', column, values: [lower(value)] };
    }
    default:
      return undefined;
  }
}

/**
 * The one decision path for resource permissions on models (and for reading
 * them), used by the REST API and the mirror. The policy is asked once,
 * with the caller's credentials and without a resource
 * (`authorizeConditional`); ALLOW and DENY apply as they are, and the
 * conditions of a conditional decision of the catalog are applied here,
 * with the catalog's own rules, to:
 *
 * - the catalog's entity of the model once the catalog has processed it
 *   (it has its `ownedBy` relation);
 * - until then, the entity the hub's row becomes (same rules, same owner),
 *   so the answer is the same before, while and after the catalog processes
 *   a new model. Such a fallback is logged.
 *
 * Conditions with rules the hub does not know (a portal's own catalog
 * rules) are sent to the catalog (`authorize` with the resource ref) once it
 * has processed the entity, and fail closed before, with a logged reason.
 * Lists use {@link ModelAccess.readCondition}: the read decision translated
 * into SQL over the hub's rows, or resolved model by model.
 *
 * @internal
 */
export class ModelAccess {
  constructor(
    private readonly options: {
      permissions: PermissionsService;
      catalog: CatalogService;
      auth: AuthService;
      store: Pick<ModelHubStore, 'getModel'>;
      logger: LoggerService;
      /** Lists every model of the hub (ref and row), for refs resolution. */
      listAllModels?: () => Promise<HubModel[]>;
    },
  ) {}

  /** The policy's decisions for the permissions, combined. */
  async policyDecision(
    credentials: BackstageCredentials,
    permissions: ResourcePermission[],
  ): Promise<Decision> {
    const decisions: PolicyDecision[] =
      await this.options.permissions.authorizeConditional(
        permissions.map(permission => ({ permission })),
        { credentials },
      );
    const criteria: EntityCriteria[] = [];
    for (const [i, decision] of decisions.entries()) {
      if (decision.result === AuthorizeResult.DENY) {
        return false;
      }
      if (decision.result === AuthorizeResult.CONDITIONAL) {
        if (
          decision.resourceType !== MODEL_HUB_MODEL_RESOURCE_TYPE ||
          decision.pluginId !== 'catalog'
        ) {
          this.options.logger.warn(
            `Denied ${permissions[i].name}: a conditional decision of ${decision.pluginId} on ${decision.resourceType} cannot be applied to models`,
          );
          return false;
        }
        criteria.push(decision.conditions as EntityCriteria);
      }
    }
    if (criteria.length === 0) {
      return true;
    }
    const [first, ...rest] = criteria;
    return rest.length === 0 ? first : { allOf: [first, ...rest] };
  }

  /** The entity to decide on: the processed catalog entity, or the hub's row. */
  private async decisionEntity(
    entityRef: string,
  ): Promise<DecisionEntity | undefined> {
    const ref = entityRef.toLocaleLowerCase('en-US');
    const [fromCatalog, row] = await Promise.all([
      this.options.catalog.getEntityByRef(ref, {
        credentials: await this.options.auth.getOwnServiceCredentials(),
      }),
      this.options.store.getModel({ entityRef: ref }),
    ]);
    if (fromCatalog?.relations?.some(r => r.type === RELATION_OWNED_BY)) {
      return { entity: fromCatalog, source: 'catalog' };
    }
    if (row) {
      this.options.logger.info(
        `Deciding on ${ref} with the hub's record of its owner: the catalog has ${
          fromCatalog ? 'not processed it yet' : 'no entity for it yet'
        }`,
      );
      return { entity: entityOfHubModel(row), source: 'hub' };
    }
    return undefined;
  }

  private async apply(
    credentials: BackstageCredentials,
    permissions: ResourcePermission[],
    criteria: EntityCriteria,
    entityRef: string,
    target: DecisionEntity | undefined,
  ): Promise<boolean> {
    if (!target) {
      return false;
    }
    const unknown = unknownRules(criteria);
    if (unknown.length === 0) {
      return entityMatchesConditions(target.entity, criteria);
    }
    if (target.source === 'catalog') {
      // the catalog knows its own rules
      const decisions = await this.options.permissions.authorize(
        permissions.map(permission => ({
          permission,
          resourceRef: entityRef,
        })),
        { credentials },
      );
      return decisions.every(d => d.result === AuthorizeResult.ALLOW);
    }
    this.options.logger.warn(
      `Denied ${permissions
        .map(p => p.name)
        .join(
          ', ',
        )} on ${entityRef}: the catalog has not processed it yet and the hub cannot evaluate the rules ${unknown.join(
        ', ',
      )}`,
    );
    return false;
  }

  /**
   * Whether the caller holds all the permissions on a model: the policy's
   * decision (one call), and a conditional one applied to the model.
   */
  async decide(
    credentials: BackstageCredentials,
    permissions: ResourcePermission[],
    entityRef: string,
  ): Promise<boolean> {
    const decision = await this.policyDecision(credentials, permissions);
    if (typeof decision === 'boolean') {
      return decision;
    }
    return this.apply(
      credentials,
      permissions,
      decision,
      entityRef,
      await this.decisionEntity(entityRef),
    );
  }

  /** Whether the caller may read a model. */
  canRead(
    credentials: BackstageCredentials,
    entityRef: string,
  ): Promise<boolean> {
    return this.decide(credentials, MODEL_READ_PERMISSIONS, entityRef);
  }

  /**
   * The models the caller may read, as a condition for the queries of the
   * lists: translated into SQL when the conditions allow it, otherwise
   * resolved model by model on the same entities {@link decide} uses.
   */
  async readCondition(
    credentials: BackstageCredentials,
  ): Promise<ModelCondition> {
    const decision = await this.policyDecision(
      credentials,
      MODEL_READ_PERMISSIONS,
    );
    if (decision === true) {
      return { op: 'all' };
    }
    if (decision === false) {
      return { op: 'none' };
    }
    const translated = conditionOfCriteria(decision);
    if (translated) {
      return translated;
    }
    return this.resolveRefs(credentials, decision);
  }

  private async resolveRefs(
    credentials: BackstageCredentials,
    criteria: EntityCriteria,
  ): Promise<ModelCondition> {
    if (!this.options.listAllModels) {
      return { op: 'none' };
    }
    const started = Date.now();
    const models = await this.options.listAllModels();
    const serviceCredentials =
      await this.options.auth.getOwnServiceCredentials();
    const allowed: string[] = [];
    for (let i = 0; i < models.length; i += 500) {
      const chunk = models.slice(i, i + 500);
      const { items } = await this.options.catalog.getEntitiesByRefs(
        { entityRefs: chunk.map(m => m.entityRef) },
        { credentials: serviceCredentials },
      );
      const results = await Promise.all(
        chunk.map((model, j) => {
          const entity = items[j];
          const target: DecisionEntity = entity?.relations?.some(
            r => r.type === RELATION_OWNED_BY,
          )
            ? { entity, source: 'catalog' }
            : { entity: entityOfHubModel(model), source: 'hub' };
          return this.apply(
            credentials,
            MODEL_READ_PERMISSIONS,
            criteria,
            model.entityRef,
            target,
          );
        }),
      );
      chunk.forEach((model, j) => {
        if (results[j]) {
          allowed.push(model.entityRef);
        }
      });
    }
    this.options.logger.info(
      `Read conditions not translatable to SQL; resolved ${
        models.length
      } models (${allowed.length} readable) in ${Date.now() - started} ms`,
    );
    // the readable refs (not the others): a model created meanwhile stays
    // hidden until the next request decides on it
    return { op: 'in', column: 'entity_ref', values: allowed };
  }
}
