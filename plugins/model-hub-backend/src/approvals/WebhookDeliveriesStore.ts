import { Knex } from 'knex';
import { WebhookDelivery } from './ApprovalsStore';
import { opt, parseJson, toIso } from './rows';

/**
 * The owner of `webhook_deliveries`: the webhook deliveries of the
 * approvals workflow and their attempts.
 *
 * @internal
 */
export class WebhookDeliveriesStore {
  constructor(private readonly db: Knex) {}

  async create(options: {
    id: string;
    event: string;
    url: string;
    modelRef?: string;
    versionLabel?: string;
    payload: unknown;
  }): Promise<void> {
    const now = new Date();
    await this.db('webhook_deliveries').insert({
      id: options.id,
      event: options.event,
      url: options.url,
      model_ref: options.modelRef ?? null,
      version_label: options.versionLabel ?? null,
      payload: JSON.stringify(options.payload),
      status: 'pending',
      attempts: 0,
      created_at: now,
      updated_at: now,
    });
  }

  async update(options: {
    id: string;
    status: WebhookDelivery['status'];
    attempts: number;
    responseStatus?: number;
    error?: string;
  }): Promise<void> {
    await this.db('webhook_deliveries')
      .where({ id: options.id })
      .update({
        status: options.status,
        attempts: options.attempts,
        response_status: options.responseStatus ?? null,
        error: options.error ?? null,
        updated_at: new Date(),
      });
  }

  async claimStale(options: { staleBefore: Date; limit: number }): Promise<
    Array<{
      id: string;
      event: string;
      url: string;
      attempts: number;
      payload: unknown;
    }>
  > {
    const rows = await this.db('webhook_deliveries')
      .where({ status: 'pending' })
      .andWhere('updated_at', '<', options.staleBefore)
      .orderBy('created_at', 'asc')
      .limit(options.limit)
      .select('id', 'event', 'url', 'attempts', 'payload');
    const claimed = [];
    for (const row of rows) {
      // compare-and-set: of several instances, one claims each delivery
      const updated = await this.db('webhook_deliveries')
        .where({ id: row.id, status: 'pending' })
        .andWhere('updated_at', '<', options.staleBefore)
        .update({ updated_at: new Date() });
      if (updated === 1) {
        claimed.push({
          id: row.id,
          event: row.event,
          url: row.url,
          attempts: Number(row.attempts),
          payload: parseJson(row.payload),
        });
      }
    }
    return claimed;
  }

  async list(options: {
    offset: number;
    limit: number;
  }): Promise<{ items: WebhookDelivery[]; totalCount: number }> {
    const [countRow, rows] = await Promise.all([
      this.db('webhook_deliveries').count({ count: '*' }).first(),
      this.db('webhook_deliveries')
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .offset(options.offset)
        .limit(options.limit),
    ]);
    return {
      items: rows.map(r => ({
        id: r.id,
        event: r.event,
        url: r.url,
        modelRef: opt(r.model_ref),
        versionLabel: opt(r.version_label),
        payload: parseJson(r.payload),
        status: r.status,
        attempts: Number(r.attempts),
        responseStatus:
          r.response_status === null ? undefined : Number(r.response_status),
        error: opt(r.error),
        createdAt: toIso(r.created_at),
        updatedAt: toIso(r.updated_at),
      })),
      totalCount: Number(countRow?.count ?? 0),
    };
  }
}
