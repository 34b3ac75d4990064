import { Knex } from 'knex';

/** The import evidence of a version, as recorded. @internal */
export type ImportEvidence = {
  portal: string;
  trustedKeyName: string;
  keyId: string;
  indexDigest: string;
  manifestDigest: string;
  policy: 'trust' | 'review';
  importedBy: string;
  importedAt: string;
  evidence: Record<string, unknown>;
};

/**
 * The owner of `version_imports`: the evidence of the versions imported
 * from transfer bundles.
 *
 * @internal
 */
export class ImportsStore {
  constructor(private readonly db: Knex) {}

  /** Records the import of a version (in the import's transaction). */
  async record(
    options: {
      versionId: string;
      portal: string;
      trustedKeyName: string;
      keyId: string;
      indexDigest: string;
      manifestDigest: string;
      policy: 'trust' | 'review';
      evidence: Record<string, unknown>;
      importedBy: string;
      importedAt: Date;
    },
    tx: Knex = this.db,
  ): Promise<void> {
    await tx('version_imports').insert({
      version_id: options.versionId,
      portal: options.portal,
      trusted_key_name: options.trustedKeyName,
      key_id: options.keyId,
      index_digest: options.indexDigest,
      manifest_digest: options.manifestDigest,
      policy: options.policy,
      evidence: JSON.stringify(options.evidence),
      imported_by: options.importedBy,
      imported_at: options.importedAt,
    });
  }

  /** The import evidence of a version, or undefined. */
  async get(versionId: string): Promise<ImportEvidence | undefined> {
    const row = await this.db('version_imports')
      .where({ version_id: versionId })
      .first();
    if (!row) {
      return undefined;
    }
    return {
      portal: row.portal as string,
      trustedKeyName: row.trusted_key_name as string,
      keyId: row.key_id as string,
      indexDigest: row.index_digest as string,
      manifestDigest: row.manifest_digest as string,
      policy: row.policy as 'trust' | 'review',
      importedBy: row.imported_by as string,
      importedAt: new Date(row.imported_at).toISOString(),
      evidence: JSON.parse(row.evidence) as Record<string, unknown>,
    };
  }
}

/** The import evidence of a version, or undefined. @internal */
export async function getImportEvidence(
  knex: Knex,
  versionId: string,
): Promise<ImportEvidence | undefined> {
  return new ImportsStore(knex).get(versionId);
}
