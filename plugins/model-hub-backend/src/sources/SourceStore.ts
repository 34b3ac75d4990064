import type { HubSourceStatus } from '@model-hub/backstage-plugin-model-hub-common';
import { Knex } from 'knex';
import {
  ModelCondition,
  whereReadableModel,
} from '../database/modelReadFilter';
import { ModelsStore } from '../database/ModelsStore';
import { toOptionalIso } from '../database/rows';
import { VersionsStore } from '../database/VersionsStore';
import { SourceDefinition, SourceKind } from './config';

function parseList(value: string | null | undefined): string[] {
  try {
    const parsed = value ? JSON.parse(value) : [];
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}

/** `credentials`: valid, invalid, none (the source has no token), unknown (not checked, or unreachable). @public */
export type SourceCredentials = HubSourceStatus['credentials'];

/** The last check of a source, as the API returns it. @public */
export type SourceStatus = HubSourceStatus;

/** A source's status is a problem for its models. @public */
export function sourceProblem(
  status: SourceStatus | undefined,
): string | undefined {
  if (!status) {
    return undefined;
  }
  if (status.reachable === false) {
    return `unreachable${status.lastError ? `: ${status.lastError}` : ''}`;
  }
  if (status.credentials === 'invalid') {
    return `credentials invalid${
      status.lastError ? `: ${status.lastError}` : ''
    }`;
  }
  if (status.rateLimit?.limited) {
    return 'rate limited';
  }
  return undefined;
}

/** A model that came from a source. @public */
export type SourceReference = {
  entityRef: string;
  namespace: string;
  name: string;
  title?: string;
  /** The registered repo id (Hub sources). */
  repoId?: string;
  syncState?: string;
  versions: number;
};

/**
 * The persistence of model sources: the sources admins added at run time,
 * the status of every source, and the models and versions that came from
 * each.
 *
 * @internal
 */
export class SourceStore {
  constructor(private readonly db: Knex) {}

  async listRuntimeSources(): Promise<SourceDefinition[]> {
    const rows = await this.db('model_sources')
      .orderBy('created_at')
      .orderBy('name');
    return rows.map(r => ({
      name: r.name,
      kind: r.kind as SourceKind,
      endpoint: r.endpoint ?? undefined,
      root: r.root ?? undefined,
      tokenRef: r.token_ref ?? undefined,
      include: parseList(r.include),
      exclude: parseList(r.exclude),
      allowedOrganizations: parseList(r.allowed_organizations),
      namespace: r.namespace,
      schedule: {
        frequency: { minutes: Number(r.sync_minutes) },
        timeout: { minutes: 30 },
      },
      origin: 'runtime' as const,
      createdBy: r.created_by,
      createdAt: toOptionalIso(r.created_at),
    }));
  }

  async insertSource(source: SourceDefinition & { createdBy: string }) {
    const now = new Date();
    const freq = source.schedule.frequency as {
      minutes?: number;
      hours?: number;
    };
    await this.db('model_sources').insert({
      name: source.name,
      kind: source.kind,
      endpoint: source.endpoint ?? null,
      root: source.root ?? null,
      token_ref: source.tokenRef ?? null,
      include: JSON.stringify(source.include),
      exclude: JSON.stringify(source.exclude),
      allowed_organizations: JSON.stringify(source.allowedOrganizations),
      namespace: source.namespace,
      sync_minutes: (freq.minutes ?? 0) + (freq.hours ?? 0) * 60 || 60,
      created_by: source.createdBy,
      created_at: now,
      updated_at: now,
    });
  }

  async deleteSource(name: string): Promise<void> {
    await this.db.transaction(async tx => {
      await tx('model_sources').where({ name }).delete();
      await tx('model_source_status').where({ source_name: name }).delete();
    });
  }

  async getStatuses(): Promise<Map<string, SourceStatus>> {
    const [rows, syncs] = await Promise.all([
      this.db('model_source_status'),
      this.db('hf_repos')
        .whereNot('sync_state', 'failed')
        .groupBy('source_name')
        .select('source_name')
        .max({ at: 'last_synced_at' })
        .max({ checked: 'upstream_checked_at' }),
    ]);
    const lastSync = new Map<string, string | undefined>();
    for (const s of syncs as any[]) {
      const candidates = [toOptionalIso(s.at), toOptionalIso(s.checked)].filter(
        Boolean,
      ) as string[];
      lastSync.set(s.source_name, candidates.sort().pop());
    }
    const out = new Map<string, SourceStatus>();
    for (const r of rows) {
      out.set(r.source_name, this.mapStatus(r, lastSync.get(r.source_name)));
    }
    for (const [name, at] of lastSync) {
      if (!out.has(name)) {
        out.set(name, { credentials: 'unknown', lastSuccessfulSyncAt: at });
      }
    }
    return out;
  }

  async getStatus(name: string): Promise<SourceStatus | undefined> {
    return (await this.getStatuses()).get(name);
  }

  private mapStatus(r: any, lastSync?: string): SourceStatus {
    let rateLimit: SourceStatus['rateLimit'];
    try {
      rateLimit = r.rate_limit ? JSON.parse(r.rate_limit) : undefined;
    } catch {
      rateLimit = undefined;
    }
    return {
      reachable: r.reachable === null ? undefined : Boolean(r.reachable),
      credentials: (r.credentials ?? 'unknown') as SourceCredentials,
      account: r.account ?? undefined,
      rateLimit,
      lastError: r.last_error ?? undefined,
      checkedAt: toOptionalIso(r.checked_at),
      lastOkAt: toOptionalIso(r.last_ok_at),
      failingSince: toOptionalIso(r.failing_since),
      lastSuccessfulSyncAt: lastSync,
    };
  }

  /**
   * Records a check. Returns true when this call is the one that must
   * notify: the source fails and its failure was not notified yet (claimed
   * with a conditional update, so that one instance of several notifies).
   * A healthy check clears the failure, so that the next one notifies again.
   */
  async recordCheck(
    name: string,
    check: Omit<
      SourceStatus,
      'checkedAt' | 'lastOkAt' | 'failingSince' | 'lastSuccessfulSyncAt'
    >,
    failing: boolean,
  ): Promise<boolean> {
    const now = new Date();
    const values = {
      reachable: check.reachable ?? null,
      credentials: check.credentials,
      account: check.account ?? null,
      rate_limit: check.rateLimit ? JSON.stringify(check.rateLimit) : null,
      last_error: check.lastError?.slice(0, 2000) ?? null,
      checked_at: now,
    };
    const existing = await this.db('model_source_status')
      .where({ source_name: name })
      .first();
    if (!existing) {
      await this.db('model_source_status')
        .insert({ source_name: name, ...values })
        .onConflict('source_name')
        .ignore();
    }
    if (!failing) {
      await this.db('model_source_status')
        .where({ source_name: name })
        .update({
          ...values,
          last_ok_at: now,
          failing_since: null,
          notified_at: null,
        });
      return false;
    }
    await this.db('model_source_status')
      .where({ source_name: name })
      .update(values);
    await this.db('model_source_status')
      .where({ source_name: name })
      .whereNull('failing_since')
      .update({ failing_since: now });
    const claimed = await this.db('model_source_status')
      .where({ source_name: name })
      .whereNull('notified_at')
      .update({ notified_at: now });
    return Number(claimed) > 0;
  }

  /** When the scheduled sync of a run-time source last ran. */
  async lastScheduledSync(name: string): Promise<Date | undefined> {
    const row = await this.db('model_source_status')
      .where({ source_name: name })
      .first('last_scheduled_sync_at');
    const iso = toOptionalIso(row?.last_scheduled_sync_at);
    return iso ? new Date(iso) : undefined;
  }

  async markScheduledSync(name: string): Promise<void> {
    const now = new Date();
    const updated = await this.db('model_source_status')
      .where({ source_name: name })
      .update({ last_scheduled_sync_at: now });
    if (!Number(updated)) {
      await this.db('model_source_status')
        .insert({
          source_name: name,
          credentials: 'unknown',
          last_scheduled_sync_at: now,
        })
        .onConflict('source_name')
        .merge(['last_scheduled_sync_at']);
    }
  }

  /** How many models and versions came from each source. */
  async countReferences(): Promise<
    Map<string, { models: number; versions: number }>
  > {
    const [models, versions] = await Promise.all([
      this.db('models')
        .whereNotNull('source_name')
        .groupBy('source_name')
        .select('source_name')
        .count({ n: '*' }),
      this.db('model_versions')
        .whereNotNull('source_name')
        .groupBy('source_name')
        .select('source_name')
        .count({ n: '*' }),
    ]);
    const out = new Map<string, { models: number; versions: number }>();
    for (const m of models as any[]) {
      out.set(m.source_name, { models: Number(m.n), versions: 0 });
    }
    for (const v of versions as any[]) {
      const entry = out.get(v.source_name) ?? { models: 0, versions: 0 };
      entry.versions = Number(v.n);
      out.set(v.source_name, entry);
    }
    return out;
  }

  /** The models of a source the caller may read, with their repo and version counts. */
  async listReferences(options: {
    source: string;
    offset: number;
    limit: number;
    readable?: ModelCondition;
  }): Promise<{ items: SourceReference[]; totalCount: number }> {
    const counted = this.db('models as m').where(
      'm.source_name',
      options.source,
    );
    const listed = this.db('models as m')
      .where('m.source_name', options.source)
      .leftJoin('hf_repos as r', 'r.model_id', 'm.id')
      .select(
        'm.id',
        'm.entity_ref',
        'm.namespace',
        'm.name',
        'm.title',
        'r.repo_id',
        'r.sync_state',
        this.db('model_versions as v')
          .whereRaw('v.model_id = m.id')
          .count('*')
          .as('versions'),
      );
    for (const q of [counted, listed]) {
      whereReadableModel(q, this.db, options.readable, {
        column: 'm.id',
        key: 'id',
      });
    }
    const [count, rows] = await Promise.all([
      counted.count({ count: '*' }).first(),
      listed
        .orderBy('m.entity_ref')
        .offset(options.offset)
        .limit(options.limit),
    ]);
    return {
      totalCount: Number((count as any)?.count ?? 0),
      items: (rows as any[]).map(r => ({
        entityRef: r.entity_ref,
        namespace: r.namespace,
        name: r.name,
        title: r.title ?? undefined,
        repoId: r.repo_id ?? undefined,
        syncState: r.sync_state ?? undefined,
        versions: Number(r.versions ?? 0),
      })),
    };
  }

  /** The source a model came from. */
  async sourceOfModel(modelId: string): Promise<string | undefined> {
    const repo = await this.db('hf_repos')
      .where({ model_id: modelId })
      .first('source_name');
    if (repo) {
      return repo.source_name;
    }
    const model = await this.db('models')
      .where({ id: modelId })
      .first('source_name');
    return model?.source_name ?? undefined;
  }

  /**
   * Records the source of the versions of a source's repos that do not
   * name one yet (versions a sync created).
   */
  async stampVersions(source: string, modelId?: string): Promise<void> {
    await new VersionsStore(this.db).stampHubSource(source, modelId);
  }

  /** Records a local source on the models its scan created. */
  async stampScanned(source: string): Promise<void> {
    await new ModelsStore(this.db).stampScannedSource(source);
    await new VersionsStore(this.db).stampModelSource(source);
  }
}
