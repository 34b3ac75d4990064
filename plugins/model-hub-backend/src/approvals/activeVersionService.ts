import { ConflictError, NotFoundError } from '@backstage/errors';
import { ModelHubStore } from '../database/ModelHubStore';
import { HubModel, HubVersion } from '../database/types';
import {
  ActiveVersion,
  ActiveVersionChange,
  ApprovalsStore,
} from './ApprovalsStore';
import { ServedVersion, servedOf } from './servedVersion';
import type { WebhookDispatcher } from './webhooks';

/**
 * The active version of models in the approvals workflow: promotions,
 * rollbacks and their history, and the served version derived from it.
 *
 * @internal
 */
export class ActiveVersionService {
  constructor(
    private readonly options: {
      store: ApprovalsStore;
      hubStore: ModelHubStore;
      /** Queues webhooks, never failing the request. */
      emit: (
        ...args: Parameters<WebhookDispatcher['dispatch']>
      ) => Promise<void>;
    },
  ) {}

  async servedVersion(model: HubModel): Promise<ServedVersion> {
    const [versions, active] = await Promise.all([
      this.options.hubStore.listVersions({ modelId: model.id }),
      this.getActiveVersion(model),
    ]);
    return servedOf(versions, active);
  }

  async getActiveVersion(model: HubModel): Promise<ActiveVersion | undefined> {
    return this.options.store.getActiveVersion({ modelId: model.id });
  }

  async activeVersionWithHistory(model: HubModel): Promise<{
    active: ActiveVersion | null;
    history: ActiveVersionChange[];
  }> {
    const [active, history] = await Promise.all([
      this.getActiveVersion(model),
      this.options.store.listActiveVersionChanges({ modelId: model.id }),
    ]);
    return { active: active ?? null, history };
  }

  /**
   * Makes an approved version the active one. `expectedActive` is the label
   * of the active version the caller saw (null: none); a different one is
   * a conflict.
   */
  async promote(options: {
    model: HubModel;
    version: HubVersion;
    actor: string;
    expectedActive?: string | null;
  }): Promise<ActiveVersion> {
    const { model, version, actor } = options;
    const current = await this.getActiveVersion(model);
    if (
      options.expectedActive !== undefined &&
      options.expectedActive !== (current?.label ?? null)
    ) {
      throw new ConflictError(
        `The active version of ${model.entityRef} is ${
          current?.label ?? 'none'
        }, not ${options.expectedActive ?? 'none'}; reload and try again`,
      );
    }
    if (version.state !== 'approved') {
      throw new ConflictError(
        `Version ${version.label} is ${version.state}; only an approved version can be the active version`,
      );
    }
    if (current?.versionId === version.id) {
      throw new ConflictError(
        `Version ${version.label} is already the active version`,
      );
    }
    return this.setActive(model, version, current, 'promote', actor);
  }

  /**
   * Makes an earlier approved version active again: the given one, or the
   * one that was active before the current one.
   */
  async rollback(options: {
    model: HubModel;
    label?: string;
    actor: string;
    /** The active version the caller saw (null: none); 409 when it changed. */
    expectedActive?: string | null;
  }): Promise<ActiveVersion> {
    const { model, actor } = options;
    const { hubStore, store } = this.options;
    const current = await this.getActiveVersion(model);
    if (
      options.expectedActive !== undefined &&
      options.expectedActive !== (current?.label ?? null)
    ) {
      throw new ConflictError(
        `The active version of ${model.entityRef} is ${
          current?.label ?? 'none'
        }, not ${options.expectedActive ?? 'none'}; reload and try again`,
      );
    }
    let target: HubVersion | undefined;
    if (options.label) {
      target = await hubStore.getVersion({
        modelId: model.id,
        label: options.label,
      });
      if (!target) {
        throw new NotFoundError(
          `Version ${options.label} of model ${model.entityRef} not found`,
        );
      }
      if (target.state !== 'approved') {
        throw new ConflictError(
          `Version ${target.label} is ${target.state}; only an approved version can be rolled back to`,
        );
      }
    } else {
      const changes = await store.listActiveVersionChanges({
        modelId: model.id,
      });
      const versions = await hubStore.listVersions({ modelId: model.id });
      const approved = new Map(
        versions.filter(v => v.state === 'approved').map(v => [v.label, v]),
      );
      const previous = changes.find(
        c => c.label && c.label !== current?.label && approved.has(c.label),
      );
      if (!previous) {
        throw new ConflictError(
          `Model ${model.entityRef} has no earlier approved active version to roll back to`,
        );
      }
      target = approved.get(previous.label!)!;
    }
    if (current?.versionId === target.id) {
      throw new ConflictError(
        `Version ${target.label} is already the active version`,
      );
    }
    return this.setActive(model, target, current, 'rollback', actor);
  }

  private async setActive(
    model: HubModel,
    version: HubVersion,
    current: ActiveVersion | undefined,
    action: 'promote' | 'rollback',
    actor: string,
  ): Promise<ActiveVersion> {
    const active = await this.options.store.setActiveVersion({
      modelId: model.id,
      versionId: version.id,
      expectedVersionId: current?.versionId ?? null,
      action,
      actor,
    });
    await this.options.emit('model.active_version_changed', {
      modelRef: model.entityRef,
      versionLabel: version.label,
      actor,
      action,
      model: {
        entityRef: model.entityRef,
        owner: model.owner,
        type: model.type,
        lifecycle: model.lifecycle,
      },
      activeVersion: active.label,
      previousActiveVersion: current?.label ?? null,
    });
    return active;
  }
}
