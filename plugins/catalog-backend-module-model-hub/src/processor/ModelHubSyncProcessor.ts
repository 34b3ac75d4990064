import { createHash } from 'node:crypto';
import {
  AuthService,
  DiscoveryService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { ANNOTATION_LOCATION, Entity } from '@backstage/catalog-model';
import { LocationSpec } from '@backstage/plugin-catalog-common';
import {
  CatalogProcessor,
  CatalogProcessorCache,
  CatalogProcessorEmit,
} from '@backstage/plugin-catalog-node';
import {
  isModelEntity,
  MODEL_HUB_ORIGIN_ANNOTATION,
} from '@model-hub/backstage-plugin-model-hub-common';

const FINGERPRINT_KEY = 'fingerprint';

/** The fields of a Model the hub keeps, digested. */
function fingerprintOf(entity: Entity): string {
  const { name, namespace, title, description, tags } = entity.metadata;
  return createHash('sha256')
    .update(
      JSON.stringify({
        name,
        namespace,
        title,
        description,
        tags,
        spec: entity.spec,
      }),
    )
    .digest('hex');
}

/**
 * Tells the Model Hub backend about catalog-defined `Model` entities whose
 * hub fields (owner, lifecycle, type, tags, system, title, ...) changed, as
 * the catalog processes them, so that edits of a Model's YAML reach the hub
 * before its next scheduled reconcile. The digest of the last notified
 * fields is kept in the processor cache of the entity (in the catalog
 * database), so an unchanged entity costs no request. A failed notification
 * is retried on the next processing; the hub's scheduled reconcile remains
 * the guarantee (it also handles removals, which processors never see).
 *
 * Entities emitted by the Model Hub entity provider are skipped: their hub
 * row is their source of truth.
 *
 * @public
 */
export class ModelHubSyncProcessor implements CatalogProcessor {
  constructor(
    private readonly options: {
      discovery: DiscoveryService;
      auth: AuthService;
      logger: LoggerService;
      /** Timeout of a notification; default 5 s. */
      timeoutMs?: number;
    },
  ) {}

  getProcessorName(): string {
    return 'ModelHubSyncProcessor';
  }

  private async emittedByHub(entity: Entity): Promise<boolean> {
    const annotations = entity.metadata.annotations ?? {};
    if (annotations[MODEL_HUB_ORIGIN_ANNOTATION] === 'hub') {
      return true;
    }
    const location = annotations[ANNOTATION_LOCATION] ?? '';
    if (!location.startsWith('url:')) {
      return false;
    }
    const base = await this.options.discovery.getExternalBaseUrl('model-hub');
    return location.startsWith(`url:${base}/models/`);
  }

  async postProcessEntity(
    entity: Entity,
    _location: LocationSpec,
    _emit: CatalogProcessorEmit,
    cache: CatalogProcessorCache,
  ): Promise<Entity> {
    if (!isModelEntity(entity) || (await this.emittedByHub(entity))) {
      return entity;
    }
    const fingerprint = fingerprintOf(entity);
    if ((await cache.get<string>(FINGERPRINT_KEY)) === fingerprint) {
      return entity;
    }
    try {
      const baseUrl = await this.options.discovery.getBaseUrl('model-hub');
      const { token } = await this.options.auth.getPluginRequestToken({
        onBehalfOf: await this.options.auth.getOwnServiceCredentials(),
        targetPluginId: 'model-hub',
      });
      const response = await fetch(`${baseUrl}/catalog-sync/entities`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ entities: [entity] }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      await response.text();
      await cache.set(FINGERPRINT_KEY, fingerprint);
    } catch (error) {
      // the hub is down or not installed: retried on the next processing,
      // and the hub's scheduled reconcile catches up anyway
      this.options.logger.debug(
        `Could not notify Model Hub of ${entity.metadata.name}: ${error}`,
      );
    }
    return entity;
  }
}
