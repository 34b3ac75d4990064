import { createHash, randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { toIso } from '../database/rows';
import { ArtifactStore } from '../store/ArtifactStore';
import { inspectFile } from './inspectFile';
import { blobSource } from './source';
import { CheckStatus, InspectionCheck, InspectionLimits } from './types';

/** Name of the aggregate format check of a version. @internal */
export const FORMAT_CHECK = 'model-hub.format';
/** Name of the aggregate safety (pickle) check of a version. @internal */
export const SAFETY_CHECK = 'model-hub.safety';
/** Prefix of the per-file inspection checks. @internal */
export const FILE_CHECK_PREFIX = 'inspect:';

const MAX_NAME = 128;

/** The stored name of a per-file check (the table allows 128 characters). */
export function storedCheckName(name: string): string {
  const full = `${FILE_CHECK_PREFIX}${name}`;
  if (full.length <= MAX_NAME) {
    return full;
  }
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${FILE_CHECK_PREFIX}…${name.slice(
    -(MAX_NAME - FILE_CHECK_PREFIX.length - 14),
  )}#${digest}`;
}

/** pass/warn/fail as the statuses of the approvals workflow. */
function toStatus(level: CheckStatus): 'passed' | 'failed' {
  return level === 'fail' ? 'failed' : 'passed';
}

function toSummary(check: InspectionCheck): string {
  return check.status === 'warn' ? `Warning: ${check.summary}` : check.summary;
}

/** Statuses of a recorded check (`version_checks.status`). @internal */
export type RecordedCheckStatus =
  | 'pending'
  | 'running'
  | 'passed'
  | 'failed'
  | 'error'
  | 'skipped';

/** A check of a version as recorded. @internal */
export type RecordedCheck = {
  name: string;
  status: RecordedCheckStatus;
  required: boolean;
  summary?: string;
  detailsUrl?: string;
  /** JSON details (format inspections store parameter counts here). */
  details?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
};

function parseDetails(value: string): Record<string, unknown> {
  try {
    return JSON.parse(value);
  } catch {
    return {};
  }
}

type Row = {
  name: string;
  status: string;
  summary: string | null;
  details: string | null;
};

/**
 * Inspection results as checks of a version, in the approvals workflow's
 * `version_checks` table (statuses `passed`/`failed`; warnings pass with a
 * `Warning:` summary; the pass/warn/fail level and the JSON details are in
 * the `details` column).
 *
 * - one check per inspected file, `inspect:<path>`;
 * - `model-hub.format`: failed when a file failed its format inspection
 *   (e.g. a safetensors header whose offsets do not match the file);
 * - `model-hub.safety`: failed when a pickle-based file (by name or by
 *   content) imports anything outside the allowlist, has computed imports,
 *   or could not be scanned completely (fail closed); passed with a warning
 *   when all pickle-based files are verified, passed when there are none.
 *
 * Both are written whenever a file is inspected; the default approval
 * policy requires both (`modelHub.approvals.requiredChecks`).
 *
 * @internal
 */
export class VersionChecksStore {
  constructor(private readonly db: Knex) {}

  /** Writes per-file checks (replacing those of the same files) and the aggregates. */
  async write(
    versionId: string,
    checks: InspectionCheck[],
    tx: Knex = this.db,
  ): Promise<void> {
    const now = new Date();
    for (const check of checks) {
      await this.upsert(tx, versionId, now, {
        name: storedCheckName(check.name),
        status: toStatus(check.status),
        summary: toSummary(check),
        details: { ...check.details, check: check.name, level: check.status },
      });
    }
    await this.aggregate(tx, versionId, now);
  }

  private async upsert(
    tx: Knex,
    versionId: string,
    now: Date,
    check: { name: string; status: string; summary: string; details: object },
  ) {
    const update = {
      status: check.status,
      summary: check.summary.slice(0, 10_000),
      details: JSON.stringify(check.details),
      updated_at: now,
    };
    await tx('version_checks')
      .insert({
        id: randomUUID(),
        version_id: versionId,
        name: check.name,
        required: false,
        created_at: now,
        ...update,
      })
      .onConflict(['version_id', 'name'])
      .merge(update);
  }

  private async aggregate(tx: Knex, versionId: string, now: Date) {
    const rows: Row[] = await tx('version_checks')
      .where({ version_id: versionId })
      .where('name', 'like', `${FILE_CHECK_PREFIX}%`)
      .select('name', 'status', 'summary', 'details');
    const files = rows.map(r => {
      const d = JSON.parse(r.details || '{}');
      return {
        check: String(d.check ?? r.name),
        level: d.level as CheckStatus,
        summary: r.summary ?? '',
        d,
      };
    });
    const format = files.filter(f => !f.check.startsWith('safety:'));
    const safety = files.filter(f => f.check.startsWith('safety:'));
    const formatFailed = format
      .filter(f => f.level === 'fail')
      .map(f => f.check);
    const formatWarn = format.filter(f => f.level === 'warn').map(f => f.check);
    await this.upsert(tx, versionId, now, {
      name: FORMAT_CHECK,
      status: formatFailed.length ? 'failed' : 'passed',
      summary: formatFailed.length
        ? `${formatFailed.length} of ${
            format.length
          } files failed format inspection: ${formatFailed
            .slice(0, 5)
            .join(', ')}`
        : `${format.length} files inspected${
            formatWarn.length ? `, ${formatWarn.length} with warnings` : ''
          }`,
      details: {
        failed: formatFailed,
        warnings: formatWarn,
        inspected: format.length,
      },
    });
    // fails closed: any pickle-based file that is not verified fails it
    const failed = safety.filter(f => f.level === 'fail');
    const pickles = safety.filter(f => f.d.unsafeFormat);
    const path = (check: string) => check.replace(/^safety:pickle:/, '');
    let safetySummary = 'No pickle-based files';
    if (failed.length) {
      safetySummary = `${failed.length} of ${
        safety.length
      } pickle-based files failed the safety scan: ${failed
        .slice(0, 3)
        .map(f => `${path(f.check)} (${f.summary})`)
        .join('; ')}`;
    } else if (pickles.length) {
      safetySummary = `Warning: ${pickles.length} pickle-based files (unsafe format, never loaded by the hub) import only allowlisted globals; prefer safetensors`;
    }
    await this.upsert(tx, versionId, now, {
      name: SAFETY_CHECK,
      status: failed.length ? 'failed' : 'passed',
      summary: safetySummary,
      details: {
        unsafeFormatFiles: pickles.map(f => path(f.check)),
        failed: failed.map(f => path(f.check)),
        dangerous: failed
          .filter(f => (f.d.dangerousImports ?? []).length)
          .map(f => f.check),
      },
    });
  }

  /** Removes the checks of a file that left the version; re-aggregates. */
  async forgetFile(versionId: string, path: string): Promise<void> {
    const rows: Row[] = await this.db('version_checks')
      .where({ version_id: versionId })
      .where('name', 'like', `${FILE_CHECK_PREFIX}%`)
      .select('name', 'status', 'summary', 'details');
    const names = rows
      .filter(r => {
        // per-file check names are <category>:<kind>:<path>
        const check = String(JSON.parse(r.details || '{}').check ?? '');
        return check.split(':').slice(2).join(':') === path;
      })
      .map(r => r.name);
    if (names.length) {
      await this.db('version_checks')
        .where({ version_id: versionId })
        .whereIn('name', names)
        .delete();
      await this.aggregate(this.db, versionId, new Date());
    }
  }

  /**
   * Inserts or updates the result of one check of a version (checks that
   * other systems report, e.g. through the approvals API).
   */
  async record(
    options: {
      versionId: string;
      name: string;
      status: RecordedCheckStatus;
      required?: boolean;
      summary?: string;
      detailsUrl?: string;
    },
    tx: Knex = this.db,
  ): Promise<void> {
    const now = new Date();
    const update = {
      status: options.status,
      summary: options.summary ?? null,
      details_url: options.detailsUrl ?? null,
      updated_at: now,
      ...(options.required !== undefined ? { required: options.required } : {}),
    };
    await tx('version_checks')
      .insert({
        id: randomUUID(),
        version_id: options.versionId,
        name: options.name,
        required: options.required ?? false,
        created_at: now,
        ...update,
      })
      .onConflict(['version_id', 'name'])
      .merge(update);
  }

  /** The checks of a version by name, as the approvals workflow shows them. */
  async listRecorded(
    versionId: string,
    tx: Knex = this.db,
  ): Promise<RecordedCheck[]> {
    const rows = await tx('version_checks')
      .where({ version_id: versionId })
      .orderBy('name', 'asc');
    return rows.map((r: any) => ({
      name: r.name,
      status: r.status,
      required: Boolean(r.required),
      summary: r.summary ?? undefined,
      detailsUrl: r.details_url ?? undefined,
      details: r.details ? parseDetails(r.details) : undefined,
      createdAt: toIso(r.created_at),
      updatedAt: toIso(r.updated_at),
    }));
  }

  /** The per-file checks and aggregates of a version, details parsed. */
  async list(versionId: string) {
    const rows = await this.db('version_checks')
      .where({ version_id: versionId })
      .orderBy('name', 'asc');
    return rows.map((r: any) => ({
      name: r.name as string,
      status: r.status as string,
      summary: r.summary as string,
      details: JSON.parse(r.details || '{}'),
    }));
  }
}

/**
 * Inspects a file that is already a blob of the store and records its
 * checks on the version. Inspection problems never fail the upload: they
 * become `failed` checks.
 *
 * @internal
 */
export async function inspectBlobIntoChecks(options: {
  checks: VersionChecksStore;
  artifacts: ArtifactStore;
  limits: InspectionLimits;
  versionId: string;
  path: string;
  sha256: string;
  size: number;
}): Promise<InspectionCheck[]> {
  const results = await inspectFile(
    options.path,
    blobSource(options.artifacts, options.sha256, options.size),
    options.limits,
  );
  await options.checks.write(options.versionId, results);
  return results;
}
