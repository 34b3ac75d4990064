import { LoggerService } from '@backstage/backend-plugin-api';
import { Config } from '@backstage/config';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { JobQueue } from '../jobs/JobQueue';
import { HuggingFaceConfig } from '../huggingface/config';
import { HuggingFaceClient } from '../huggingface/HuggingFaceClient';
import { HuggingFaceStore } from '../huggingface/HuggingFaceStore';
import { HuggingFaceSync } from '../huggingface/HuggingFaceSync';
import { HubNetwork } from '../huggingface/proxy';
import { redactUrl } from '../service/redactUrl';
import {
  readSourcesConfig,
  resolveToken,
  SourceDefinition,
} from './config';
import { SourceStore } from './SourceStore';

/** A Hub source, ready to use: its client (with its token), store and sync. @internal */
export type HubSourceRuntime = {
  definition: SourceDefinition;
  client: HuggingFaceClient;
  hfStore: HuggingFaceStore;
  sync: HuggingFaceSync;
  /** The token the client was built with (to notice a rotation). */
  token?: string;
};

/**
 * The model sources of the hub: those of the config, then those admins
 * added at run time. Each Hub source has its own client (its endpoint and
 * token), a store that sees only its repos, and a sync with its include /
 * exclude globs, allowed organizations and namespace. A rotated token (an
 * environment variable or secret that changed) is picked up by `refresh`.
 *
 * @internal
 */
export class SourceRegistry {
  private readonly definitions = new Map<string, SourceDefinition>();
  private readonly runtimes = new Map<string, HubSourceRuntime>();
  private readonly listeners: Array<(name: string) => void> = [];

  constructor(
    private readonly deps: {
      config: Config;
      hfConfig: HuggingFaceConfig;
      knex: import('knex').Knex;
      store: ModelHubStore;
      queue: JobQueue;
      sourceStore: SourceStore;
      logger: LoggerService;
      network?: HubNetwork;
      onEnqueue?: () => void;
      /** Overrides `process.env` (tests). */
      env?: NodeJS.ProcessEnv;
    },
  ) {
    for (const definition of readSourcesConfig(deps.config)) {
      this.definitions.set(definition.name, definition);
    }
  }

  /**
   * Reads the sources stored at run time (again): another instance may have
   * added or removed some.
   */
  async load(): Promise<void> {
    const stored = await this.deps.sourceStore.listRuntimeSources();
    const names = new Set(stored.map(d => d.name));
    for (const [name, definition] of this.definitions) {
      if (definition.origin === 'runtime' && !names.has(name)) {
        this.definitions.delete(name);
        this.runtimes.delete(name);
      }
    }
    for (const definition of stored) {
      const known = this.definitions.get(definition.name);
      if (known?.origin === 'runtime') {
        continue;
      }
      if (known) {
        this.deps.logger.warn(
          `The model source ${definition.name} is defined in the config and at run time; the config wins`,
        );
        continue;
      }
      this.definitions.set(definition.name, definition);
    }
  }

  /** Called with the name of every source added or removed at run time. */
  onChange(listener: (name: string) => void) {
    this.listeners.push(listener);
  }

  list(): SourceDefinition[] {
    return [...this.definitions.values()];
  }

  get(name: string): SourceDefinition | undefined {
    return this.definitions.get(name);
  }

  /** The default Hub source: the first one. */
  defaultHubSource(): SourceDefinition | undefined {
    return this.list().find(s => s.kind === 'huggingface');
  }

  /** The first local source (the root of `POST /scan`). */
  defaultLocalSource(): SourceDefinition | undefined {
    return this.list().find(s => s.kind === 'local');
  }

  /** Whether the source's token reference resolves to a token. */
  hasToken(definition: SourceDefinition): boolean {
    return Boolean(resolveToken(this.deps.config, definition.tokenRef, this.deps.env));
  }

  /**
   * The runtime of a Hub source (built on first use, rebuilt when its token
   * changed); without a name, the default source. Throws `NotFoundError`
   * for an unknown source and `InputError` for one that is not a Hub.
   */
  hub(name?: string): HubSourceRuntime {
    const definition = name ? this.definitions.get(name) : this.defaultHubSource();
    if (!definition) {
      throw new NotFoundError(
        name
          ? `The model source ${name} is not configured`
          : 'No Hugging Face source is configured',
      );
    }
    if (definition.kind !== 'huggingface') {
      throw new InputError(
        `The model source ${definition.name} is a ${definition.kind} source, not a Hugging Face Hub`,
      );
    }
    const token = resolveToken(this.deps.config, definition.tokenRef, this.deps.env);
    const current = this.runtimes.get(definition.name);
    if (current && current.token === token) {
      return current;
    }
    const runtime = this.build(definition, token);
    this.runtimes.set(definition.name, runtime);
    return runtime;
  }

  private build(definition: SourceDefinition, token?: string): HubSourceRuntime {
    const logger = this.deps.logger.child({ source: definition.name });
    const client = new HuggingFaceClient({
      endpoint: definition.endpoint!,
      token,
      network: this.deps.network,
      onRetry: ({ url, status, delayMs }) =>
        logger.info(
          `${definition.name} answered ${status ?? 'a network error'} for ${redactUrl(
            url,
          )}; retrying in ${delayMs} ms`,
        ),
    });
    const hfStore = new HuggingFaceStore(this.deps.knex, { source: definition.name });
    const sync = new HuggingFaceSync({
      client,
      hfStore,
      store: this.deps.store,
      queue: this.deps.queue,
      config: {
        ...this.deps.hfConfig,
        endpoint: definition.endpoint!,
        token,
        include: definition.include,
        exclude: definition.exclude,
        allowedOrganizations: definition.allowedOrganizations,
        namespace: definition.namespace,
        schedule: definition.schedule,
      },
      logger,
      onEnqueue: this.deps.onEnqueue,
    });
    return { definition, client, hfStore, sync, token };
  }

  /**
   * The Hub source of a job: the one its params name, else the one its
   * model's repo is registered from, else the model's, else the default.
   */
  async hubOfJob(modelId: string | undefined, named?: string): Promise<HubSourceRuntime> {
    const name =
      named ?? (modelId ? await this.deps.sourceStore.sourceOfModel(modelId) : undefined);
    if (name && !this.definitions.has(name)) {
      await this.load();
    }
    return this.hub(name);
  }

  /** Adds a source at run time (stored; its token stays a reference). */
  async add(definition: SourceDefinition & { createdBy: string }): Promise<void> {
    if (this.definitions.has(definition.name)) {
      throw new ConflictError(`The model source ${definition.name} exists already`);
    }
    await this.deps.sourceStore.insertSource(definition);
    this.definitions.set(definition.name, { ...definition, origin: 'runtime' });
    this.listeners.forEach(l => l(definition.name));
  }

  /** Removes a run-time source that no model refers to. */
  async remove(name: string): Promise<void> {
    const definition = this.definitions.get(name);
    if (!definition) {
      throw new NotFoundError(`The model source ${name} is not configured`);
    }
    if (definition.origin === 'config') {
      throw new ConflictError(
        `The model source ${name} comes from the config (modelHub.sources); remove it there`,
      );
    }
    const refs = (await this.deps.sourceStore.countReferences()).get(name);
    if (refs?.models) {
      throw new ConflictError(
        `The model source ${name} is referenced by ${refs.models} models; unregister them first`,
      );
    }
    await this.deps.sourceStore.deleteSource(name);
    this.definitions.delete(name);
    this.runtimes.delete(name);
    this.listeners.forEach(l => l(name));
  }
}
