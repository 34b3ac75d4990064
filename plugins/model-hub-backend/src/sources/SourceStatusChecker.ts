import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { LoggerService } from '@backstage/backend-plugin-api';
import type { NotificationService } from '@backstage/plugin-notifications-node';
import { SourceDefinition } from './config';
import { SourceRegistry } from './SourceRegistry';
import { SourceStatus, SourceStore, sourceProblem } from './SourceStore';

/** The notification topic of failing sources. @internal */
export const SOURCES_TOPIC = 'model-hub:sources';

/** The page of a source in the app. @internal */
export function sourceLink(name: string) {
  return `/model-hub/sources?source=${encodeURIComponent(name)}`;
}

type Check = Omit<
  SourceStatus,
  'checkedAt' | 'lastOkAt' | 'failingSince' | 'lastSuccessfulSyncAt'
>;

/**
 * Checks sources: a Hub source asks `whoami-v2` with its token (valid or
 * invalid credentials, the account, the rate-limit headers), or the model
 * list when it has no token (reachability); a local source checks its
 * folder. A source that turns failing (unreachable, credentials invalid, a
 * token reference that resolves to nothing) notifies the configured admins
 * once; it notifies again only after a healthy check.
 *
 * @internal
 */
export class SourceStatusChecker {
  constructor(
    private readonly deps: {
      registry: SourceRegistry;
      sourceStore: SourceStore;
      logger: LoggerService;
      notifications?: NotificationService;
      /** Entity refs of the admins notified. */
      notify: string[];
    },
  ) {}

  private async probe(definition: SourceDefinition): Promise<Check> {
    if (definition.kind === 'local') {
      try {
        const info = await stat(definition.root!);
        if (!info.isDirectory()) {
          return { reachable: false, credentials: 'none', lastError: `${definition.root} is not a folder` };
        }
        await access(definition.root!, constants.R_OK);
        await this.deps.sourceStore.stampScanned(definition.name);
        return { reachable: true, credentials: 'none' };
      } catch (error) {
        return { reachable: false, credentials: 'none', lastError: (error as Error).message };
      }
    }
    if (definition.tokenRef && !this.deps.registry.hasToken(definition)) {
      return {
        credentials: 'invalid',
        lastError: `The token reference ${definition.tokenRef} resolves to nothing (unset variable or secret)`,
      };
    }
    const { client } = this.deps.registry.hub(definition.name);
    const r = await client.checkAccount();
    if (!r.reachable) {
      return { reachable: false, credentials: 'unknown', lastError: r.error };
    }
    const status = r.status ?? 0;
    let credentials: Check['credentials'] = 'unknown';
    if (!client.hasToken) {
      credentials = 'none';
    } else if (status >= 200 && status < 300) {
      credentials = 'valid';
    } else if (status === 401 || status === 403) {
      credentials = 'invalid';
    }
    return {
      reachable: status < 500,
      credentials,
      account: r.account,
      rateLimit: r.rateLimit,
      lastError: r.error,
    };
  }

  /** Checks one source, records the result, notifies a new failure. */
  async check(name: string): Promise<SourceStatus> {
    const definition = this.deps.registry.get(name);
    if (!definition) {
      throw new Error(`The model source ${name} is not configured`);
    }
    const result = await this.probe(definition);
    // a rate limit is recorded and shown, not notified: it passes
    const failing = result.reachable === false || result.credentials === 'invalid';
    const notify = await this.deps.sourceStore.recordCheck(name, result, failing);
    const status = (await this.deps.sourceStore.getStatus(name))!;
    if (failing) {
      this.deps.logger.warn(`Model source ${name}: ${sourceProblem(status)}`);
    }
    if (notify) {
      await this.notifyFailure(definition, status);
    }
    return status;
  }

  /** Checks every source (the scheduled task). */
  async checkAll(): Promise<Record<string, SourceStatus | { error: string }>> {
    await this.deps.registry.load();
    const out: Record<string, SourceStatus | { error: string }> = {};
    for (const definition of this.deps.registry.list()) {
      try {
        out[definition.name] = await this.check(definition.name);
      } catch (error) {
        this.deps.logger.error(
          `Checking the model source ${definition.name} failed`,
          error as Error,
        );
        out[definition.name] = { error: (error as Error).message };
      }
    }
    return out;
  }

  private async notifyFailure(definition: SourceDefinition, status: SourceStatus) {
    if (!this.deps.notifications || !this.deps.notify.length) {
      return;
    }
    const refs = (await this.deps.sourceStore.countReferences()).get(definition.name);
    try {
      await this.deps.notifications.send({
        recipients: { type: 'entity', entityRef: this.deps.notify },
        payload: {
          title: `Model source ${definition.name}: ${sourceProblem(status) ?? 'failing'}`,
          description: `The model source ${definition.name}${
            definition.endpoint ? ` (${definition.endpoint})` : ''
          } fails its status check; ${refs?.models ?? 0} models come from it and cannot sync until it is fixed.`,
          link: sourceLink(definition.name),
          topic: SOURCES_TOPIC,
          severity: 'high',
          scope: `model-hub-source:${definition.name}`,
        },
      });
    } catch (error) {
      this.deps.logger.warn(
        `Notifying the failure of the model source ${definition.name} failed: ${error}`,
      );
    }
  }
}
