import { createHmac, randomUUID } from 'node:crypto';
import { LoggerService } from '@backstage/backend-plugin-api';
import { ApprovalsStore } from './ApprovalsStore';
import { ApprovalEvent, WebhookTarget } from './config';

/** The signature header: `sha256=<hex HMAC-SHA256 of the raw body>`. @internal */
export const SIGNATURE_HEADER = 'X-Model-Hub-Signature';

/** Signs a webhook body with a secret. @internal */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function isRetryable(status: number) {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Sends signed webhooks for approval events. Each delivery is logged in the
 * `webhook_deliveries` table and retried with exponential backoff
 * (`initialBackoff`, doubled per attempt) on network errors, timeouts, 408,
 * 429 and 5xx answers, up to `maxAttempts`. Retries run in this process; a
 * restart leaves an unfinished delivery `pending` in the log.
 *
 * @internal
 */
export class WebhookDispatcher {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      store: ApprovalsStore;
      targets: WebhookTarget[];
      logger: LoggerService;
    },
  ) {}

  /** Queues the deliveries of an event; resolves once they are logged. */
  async dispatch(
    event: ApprovalEvent,
    data: { modelRef?: string; versionLabel?: string; [key: string]: unknown },
  ): Promise<void> {
    const targets = this.options.targets.filter(
      t => t.events.length === 0 || t.events.includes(event),
    );
    for (const target of targets) {
      const id = randomUUID();
      const payload = {
        id,
        event,
        occurredAt: new Date().toISOString(),
        ...data,
      };
      await this.options.store.createDelivery({
        id,
        event,
        url: target.url,
        modelRef: data.modelRef,
        versionLabel: data.versionLabel,
        payload,
      });
      const run = this.deliver(id, event, target, JSON.stringify(payload))
        .catch(error =>
          this.options.logger.error(
            `Webhook delivery ${id} to ${target.url} failed`,
            error,
          ),
        )
        .finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }

  /** Resolves once every delivery started so far has finished. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size) {
      await Promise.all([...this.inFlight]);
    }
  }

  private async deliver(
    id: string,
    event: string,
    target: WebhookTarget,
    body: string,
  ): Promise<void> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'Backstage-Model-Hub-Webhook',
      'X-Model-Hub-Event': event,
      'X-Model-Hub-Delivery': id,
    };
    if (target.secret) {
      headers[SIGNATURE_HEADER] = signWebhookBody(target.secret, body);
    }
    for (let attempt = 1; ; attempt++) {
      let status: number | undefined;
      let error: string | undefined;
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(target.timeoutMs),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          await this.options.store.updateDelivery({
            id,
            status: 'succeeded',
            attempts: attempt,
            responseStatus: status,
          });
          return;
        }
        error = `HTTP ${status}`;
      } catch (e) {
        error = String((e as Error).message ?? e);
      }
      const retry =
        attempt < target.maxAttempts &&
        (status === undefined || isRetryable(status));
      await this.options.store.updateDelivery({
        id,
        status: retry ? 'pending' : 'failed',
        attempts: attempt,
        responseStatus: status,
        error,
      });
      if (!retry) {
        this.options.logger.warn(
          `Webhook ${event} to ${target.url} failed after ${attempt} attempts: ${error}`,
        );
        return;
      }
      await new Promise(resolve =>
        setTimeout(resolve, target.initialBackoffMs * 2 ** (attempt - 1)),
      );
    }
  }
}
