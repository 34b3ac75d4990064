import { createHmac, randomUUID } from 'node:crypto';
import { LoggerService } from '@backstage/backend-plugin-api';
import { ApprovalsStore } from './ApprovalsStore';
import { ApprovalEvent, WebhookTarget } from './config';
import { redactUrl, redactUrlsInText } from '../service/redactUrl';

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
 * 429 and 5xx answers, up to `maxAttempts`. Retries run in this process;
 * a delivery whose process stopped between attempts (a restart, a crash)
 * stays `pending` in the log until {@link WebhookDispatcher.resumeStale}
 * (scheduled every minute on every instance) claims it, once it has been
 * untouched for twice the longest retry cycle, and goes on from the next
 * attempt with the same body, id and signature.
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
      this.track(
        id,
        target,
        this.deliver(id, event, target, JSON.stringify(payload), 1),
      );
    }
  }

  /**
   * How long a pending delivery may go untouched while its process retries
   * it: twice the longest timeout plus backoff of any target, at least a
   * minute.
   */
  staleAfterMs(): number {
    const longest = Math.max(
      0,
      ...this.options.targets.map(
        t =>
          t.timeoutMs +
          t.initialBackoffMs * 2 ** Math.max(0, t.maxAttempts - 1),
      ),
    );
    return Math.max(60_000, 2 * longest);
  }

  /**
   * Goes on with pending deliveries that their process left (it stopped
   * between attempts). Each is claimed by one instance; a delivery whose
   * target is no longer configured, or that has used its attempts, is
   * marked failed. Returns how many were claimed.
   */
  async resumeStale(now: Date = new Date()): Promise<number> {
    const claimed = await this.options.store.claimStaleDeliveries({
      staleBefore: new Date(now.getTime() - this.staleAfterMs()),
      limit: 100,
    });
    for (const delivery of claimed) {
      const target = this.options.targets.find(t => t.url === delivery.url);
      if (!target || delivery.attempts >= target.maxAttempts) {
        const error = target
          ? `Gave up after ${delivery.attempts} attempts (the process retrying it stopped)`
          : 'The webhook target is no longer configured';
        await this.options.store.updateDelivery({
          id: delivery.id,
          status: 'failed',
          attempts: delivery.attempts,
          error,
        });
        this.options.logger.warn(
          `Webhook delivery ${delivery.id} to ${redactUrl(delivery.url, {
            keepPath: false,
          })} failed: ${error}`,
        );
        continue;
      }
      this.options.logger.info(
        `Resuming webhook delivery ${delivery.id} to ${redactUrl(delivery.url, {
          keepPath: false,
        })} at attempt ${delivery.attempts + 1}`,
      );
      this.track(
        delivery.id,
        target,
        this.deliver(
          delivery.id,
          delivery.event,
          target,
          JSON.stringify(delivery.payload),
          delivery.attempts + 1,
        ),
      );
    }
    return claimed.length;
  }

  private track(id: string, target: WebhookTarget, delivery: Promise<void>) {
    const run = delivery
      .catch(error =>
        this.options.logger.error(
          `Webhook delivery ${id} to ${redactUrl(target.url, {
            keepPath: false,
          })} failed: ${redactUrlsInText(String(error), { keepPath: false })}`,
        ),
      )
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
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
    firstAttempt: number,
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
    for (let attempt = firstAttempt; ; attempt++) {
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
        // a network error may name the target, whose path can be a secret
        error = redactUrlsInText(String((e as Error).message ?? e), {
          keepPath: false,
        });
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
          `Webhook ${event} to ${redactUrl(target.url, {
            keepPath: false,
          })} failed after ${attempt} attempts: ${error}`,
        );
        return;
      }
      await new Promise(resolve =>
        setTimeout(resolve, target.initialBackoffMs * 2 ** (attempt - 1)),
      );
    }
  }
}
