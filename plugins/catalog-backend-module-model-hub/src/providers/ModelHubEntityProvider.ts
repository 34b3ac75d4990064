import {
  AuthService,
  DatabaseService,
  DiscoveryService,
  LoggerService,
  SchedulerService,
  SchedulerServiceTaskRunner,
} from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  ANNOTATION_ORIGIN_LOCATION,
} from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { ResponseError } from '@backstage/errors';
import {
  EntityProvider,
  EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import {
  MODEL_API_VERSION,
  MODEL_FORMATS,
  MODEL_HUB_ORIGIN_ANNOTATION,
  MODEL_KIND,
  MODEL_TYPES,
  ModelEntityV1alpha1,
} from '@model-hub/backstage-plugin-model-hub-common';
import type {
  ModelHubFeedItem,
  ModelHubFeedPage,
} from '@model-hub/backstage-plugin-model-hub-common';
import {
  ModelHubEntityProviderConfig,
  readModelHubEntityProviderConfigs,
} from './ModelHubEntityProviderConfig';
import { ProviderCursorStore } from './ProviderCursorStore';

/** The annotation with the Hugging Face repo id of a synced model. @public */
export const HUGGINGFACE_REPO_ID_ANNOTATION = 'huggingface.co/repo-id';

/** A hub model as `GET /api/model-hub/entity-feed` returns it (defined in -common). @public */
export type { ModelHubFeedItem };

type FeedPage = ModelHubFeedPage;

const TAG_PATTERN = /^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$/;
const NAME_PATTERN = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const TASK_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const HF_REPO_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A valid `metadata.name` for a name or a Hugging Face id: `org/name`
 * becomes `org--name`; other characters become `-`; at most 63.
 *
 * @public
 */
export function sanitizeEntityName(value: string): string {
  let name = value
    .replace(/\//g, '--')
    .replace(/[^A-Za-z0-9\-_.]+/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (name.length > 63) {
    name = name.slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
  }
  return NAME_PATTERN.test(name) ? name : 'model';
}

/** Tags in the catalog's format (invalid ones dropped). @public */
export function filterCatalogTags(tags: string[]): string[] {
  const out = new Set<string>();
  for (const tag of tags) {
    const t = tag
      .toLocaleLowerCase('en-US')
      .replace(/[_./\s]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '');
    if (t && t.length <= 63 && TAG_PATTERN.test(t)) {
      out.add(t);
    }
  }
  return [...out];
}

/**
 * The `Model` entity of a hub model.
 *
 * @public
 */
export function toModelEntity(
  item: ModelHubFeedItem,
  options: { location: string },
): ModelEntityV1alpha1 {
  const hf = item.huggingface;
  const annotations: Record<string, string> = {
    [ANNOTATION_LOCATION]: options.location,
    [ANNOTATION_ORIGIN_LOCATION]: options.location,
    [MODEL_HUB_ORIGIN_ANNOTATION]: 'hub',
  };
  if (hf) {
    annotations[HUGGINGFACE_REPO_ID_ANNOTATION] = hf.repoId;
    if (hf.lastSyncedCommit) {
      annotations['model-hub.dev/synced-commit'] = hf.lastSyncedCommit;
    }
    if (hf.upstreamCommit) {
      annotations['model-hub.dev/upstream-commit'] = hf.upstreamCommit;
    }
    annotations['model-hub.dev/upstream-drift'] = String(hf.drift);
  }
  const source = item.source as ModelEntityV1alpha1['spec']['source'];
  const validSource =
    source === 'upload' ||
    (source &&
      typeof source === 'object' &&
      (('upload' in source && typeof source.upload === 'object') ||
        ('huggingface' in source &&
          HF_REPO_PATTERN.test(source.huggingface.repo))));
  const tags = filterCatalogTags(item.tags);
  const baseModels = (hf?.baseModels ?? []).map(b =>
    b.includes('/') ? sanitizeEntityName(b) : b,
  );
  return {
    apiVersion: MODEL_API_VERSION,
    kind: MODEL_KIND,
    metadata: {
      name: sanitizeEntityName(
        hf && !NAME_PATTERN.test(item.name) ? hf.repoId : item.name,
      ),
      namespace: sanitizeEntityName(item.namespace || 'default'),
      ...(item.title && { title: item.title }),
      ...(item.description && { description: item.description }),
      ...(tags.length && { tags }),
      annotations,
      ...(hf && {
        links: [
          {
            url: `https://huggingface.co/${hf.repoId}`,
            title: 'Hugging Face',
            type: 'huggingface',
          },
        ],
      }),
    },
    spec: {
      type: (MODEL_TYPES as readonly string[]).includes(item.type)
        ? (item.type as ModelEntityV1alpha1['spec']['type'])
        : 'other',
      lifecycle: item.lifecycle || 'experimental',
      owner: item.owner,
      ...(item.task && TASK_PATTERN.test(item.task) && { task: item.task }),
      ...(item.format &&
        (MODEL_FORMATS as readonly string[]).includes(item.format) && {
          format: item.format as ModelEntityV1alpha1['spec']['format'],
        }),
      ...(item.license && { license: item.license }),
      ...(validSource && { source }),
      ...(baseModels.length && { baseModels }),
    },
  };
}

/**
 * Emits a `Model` entity for every model of the Model Hub (synced from
 * Hugging Face or uploaded), read from the hub's REST API with a service
 * token: a `full` mutation on its schedule, and `delta` mutations (changed
 * models added, deleted ones removed) from a poll of the feed's changes.
 * Where the next delta starts (the feed time of the last run) is kept in the
 * catalog's database ({@link ProviderCursorStore}), not in memory: the
 * scheduler runs the tasks on whichever instance claims them, and a restarted
 * backend continues from there.
 *
 * @public
 */
export class ModelHubEntityProvider implements EntityProvider {
  private connection?: EntityProviderConnection;

  static fromConfig(
    config: Config,
    options: {
      logger: LoggerService;
      scheduler: SchedulerService;
      discovery: DiscoveryService;
      auth: AuthService;
      /** The catalog's database: it holds the delta cursors. */
      database: DatabaseService;
    },
  ): ModelHubEntityProvider[] {
    const cursors = new ProviderCursorStore(options.database);
    return readModelHubEntityProviderConfigs(config).map(
      providerConfig =>
        new ModelHubEntityProvider(providerConfig, {
          ...options,
          cursors,
          fullRunner: options.scheduler.createScheduledTaskRunner(
            providerConfig.schedule,
          ),
          deltaRunner: options.scheduler.createScheduledTaskRunner(
            providerConfig.deltaSchedule,
          ),
        }),
    );
  }

  private readonly logger: LoggerService;

  private constructor(
    private readonly config: ModelHubEntityProviderConfig,
    private readonly options: {
      logger: LoggerService;
      discovery: DiscoveryService;
      auth: AuthService;
      cursors: ProviderCursorStore;
      fullRunner: SchedulerServiceTaskRunner;
      deltaRunner: SchedulerServiceTaskRunner;
    },
  ) {
    this.logger = options.logger.child({ target: this.getProviderName() });
  }

  getProviderName(): string {
    return `model-hub-provider:${this.config.id}`;
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    await this.options.fullRunner.run({
      id: `${this.getProviderName()}:refresh`,
      fn: async () => {
        try {
          await this.refresh();
        } catch (error) {
          this.logger.error('Model Hub full refresh failed', error as Error);
        }
      },
    });
    await this.options.deltaRunner.run({
      id: `${this.getProviderName()}:delta`,
      fn: async () => {
        try {
          await this.applyChanges();
        } catch (error) {
          this.logger.error('Model Hub delta refresh failed', error as Error);
        }
      },
    });
  }

  private async fetchPage(query: Record<string, string>): Promise<FeedPage> {
    const baseUrl = await this.options.discovery.getBaseUrl('model-hub');
    const { token } = await this.options.auth.getPluginRequestToken({
      onBehalfOf: await this.options.auth.getOwnServiceCredentials(),
      targetPluginId: 'model-hub',
    });
    const response = await fetch(
      `${baseUrl}/entity-feed?${new URLSearchParams({
        limit: String(this.config.pageSize),
        ...query,
      })}`,
      { headers: { Authorization: `Bearer ${token}` } },
    );
    if (!response.ok) {
      throw await ResponseError.fromResponse(response);
    }
    return (await response.json()) as FeedPage;
  }

  private async toDeferred(items: ModelHubFeedItem[]) {
    const baseUrl = await this.options.discovery.getExternalBaseUrl(
      'model-hub',
    );
    return items.map(item => {
      const location = `url:${baseUrl}/models/${encodeURIComponent(
        item.namespace,
      )}/${encodeURIComponent(item.name)}`;
      return {
        entity: toModelEntity(item, { location }),
        locationKey: this.getProviderName(),
      };
    });
  }

  /** Emits every hub model (a `full` mutation). */
  async refresh(): Promise<{ count: number }> {
    if (!this.connection) {
      throw new Error('Not initialized');
    }
    const items: ModelHubFeedItem[] = [];
    let cursor: string | undefined;
    let startedAt: string | undefined;
    do {
      const page = await this.fetchPage(cursor ? { cursor } : {});
      startedAt ??= page.now;
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    await this.connection.applyMutation({
      type: 'full',
      entities: await this.toDeferred(items),
    });
    // the next delta starts where this snapshot was taken (also when a
    // delta moved the cursor further meanwhile: the snapshot replaced what
    // that delta emitted)
    if (startedAt) {
      await this.options.cursors.set(this.getProviderName(), startedAt);
    }
    this.logger.info(`Emitted ${items.length} Model entities`);
    return { count: items.length };
  }

  /** Emits models changed since the last run, removes deleted ones. */
  async applyChanges(): Promise<{ added: number; removed: number }> {
    if (!this.connection) {
      throw new Error('Not initialized');
    }
    const stored = await this.options.cursors.get(this.getProviderName());
    if (!stored) {
      // no full refresh yet (on any instance): it brings everything
      return { added: 0, removed: 0 };
    }
    // overlap a little: updates committed while the last poll ran
    const since = new Date(new Date(stored).getTime() - 5000).toISOString();
    const items: ModelHubFeedItem[] = [];
    const removed = new Set<string>();
    let cursor: string | undefined;
    let startedAt: string | undefined;
    do {
      const page = await this.fetchPage(cursor ? { since, cursor } : { since });
      startedAt ??= page.now;
      items.push(...page.items);
      page.removed.forEach(r => removed.add(r));
      cursor = page.nextCursor;
    } while (cursor);
    const live = new Set(items.map(i => i.entityRef));
    const gone = [...removed].filter(r => !live.has(r));
    if (items.length || gone.length) {
      await this.connection.applyMutation({
        type: 'delta',
        added: await this.toDeferred(items),
        removed: gone.map(entityRef => ({
          entityRef,
          locationKey: this.getProviderName(),
        })),
      });
      this.logger.debug(
        `Delta: ${items.length} changed, ${gone.length} removed`,
      );
    }
    // only if no full refresh stored its own start meanwhile
    if (startedAt) {
      await this.options.cursors.set(this.getProviderName(), startedAt, {
        expected: stored,
      });
    }
    return { added: items.length, removed: gone.length };
  }
}
