import {
  CompoundEntityRef,
  Entity,
  getCompoundEntityRef,
  parseEntityRef,
  RELATION_DEPENDENCY_OF,
  RELATION_DEPENDS_ON,
  RELATION_HAS_PART,
  RELATION_OWNED_BY,
  RELATION_OWNER_OF,
  RELATION_PART_OF,
} from '@backstage/catalog-model';
import { LocationSpec } from '@backstage/plugin-catalog-common';
import {
  CatalogProcessor,
  CatalogProcessorEmit,
  processingResult,
} from '@backstage/plugin-catalog-node';
import {
  isModelEntity,
  MODEL_REF_DEFAULT_KINDS,
  RELATION_DERIVATION_OF,
  RELATION_DERIVED_FROM,
  validateModelEntity,
} from '@model-hub/backstage-plugin-model-hub-common';

/**
 * Teaches the catalog the `Model` kind of Model Hub (apiVersion
 * `model-hub.dev/v1alpha1`): validates Model entities and emits the relations
 * of their spec, in both directions.
 *
 * - `spec.owner`: `ownedBy` / `ownerOf` (default kind Group)
 * - `spec.system`: `partOf` / `hasPart` (default kind System)
 * - `spec.datasets`: `dependsOn` / `dependencyOf` (default kind Resource)
 * - `spec.baseModels`: `derivedFrom` / `derivationOf` (default kind Model)
 *
 * References without a namespace take the namespace of the Model.
 *
 * @public
 */
export class ModelEntityProcessor implements CatalogProcessor {
  getProcessorName(): string {
    return 'ModelEntityProcessor';
  }

  /**
   * `false` for entities that are not Models, `true` for valid Models; throws
   * a `TypeError` naming the failing fields for invalid Models.
   */
  async validateEntityKind(entity: Entity): Promise<boolean> {
    return validateModelEntity(entity);
  }

  async postProcessEntity(
    entity: Entity,
    _location: LocationSpec,
    emit: CatalogProcessorEmit,
  ): Promise<Entity> {
    if (!isModelEntity(entity)) {
      return entity;
    }
    const self = getCompoundEntityRef(entity);
    const { spec } = entity;

    const emitBoth = (
      refs: string | string[] | undefined,
      defaultKind: string,
      forward: string,
      reverse: string,
    ) => {
      for (const ref of [refs ?? []].flat()) {
        const { kind, namespace, name } = parseEntityRef(ref, {
          defaultKind,
          defaultNamespace: self.namespace,
        });
        const target: CompoundEntityRef = { kind, namespace, name };
        emit(
          processingResult.relation({ source: self, type: forward, target }),
        );
        emit(
          processingResult.relation({
            source: target,
            type: reverse,
            target: self,
          }),
        );
      }
    };

    emitBoth(
      spec.owner,
      MODEL_REF_DEFAULT_KINDS.owner,
      RELATION_OWNED_BY,
      RELATION_OWNER_OF,
    );
    emitBoth(
      spec.system,
      MODEL_REF_DEFAULT_KINDS.system,
      RELATION_PART_OF,
      RELATION_HAS_PART,
    );
    emitBoth(
      spec.datasets,
      MODEL_REF_DEFAULT_KINDS.datasets,
      RELATION_DEPENDS_ON,
      RELATION_DEPENDENCY_OF,
    );
    emitBoth(
      spec.baseModels,
      MODEL_REF_DEFAULT_KINDS.baseModels,
      RELATION_DERIVED_FROM,
      RELATION_DERIVATION_OF,
    );

    return entity;
  }
}
