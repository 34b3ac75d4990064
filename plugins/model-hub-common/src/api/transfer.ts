/**
 * The approval evidence an imported version came with
 * (`GET …/import-evidence`, `imported`; null for versions made here).
 *
 * @public
 */
export type HubImportEvidence = {
  portal: string;
  trustedKeyName: string;
  keyId: string;
  indexDigest: string;
  manifestDigest: string;
  policy: 'trust' | 'review';
  importedBy: string;
  importedAt: string;
  /** As the exporting portal signed it. */
  evidence: {
    approvedDigest?: string;
    exportedAt?: string;
    approvedBy?: Array<{ reviewer: string; at: string }>;
    decisions?: Array<{
      reviewer: string;
      decision: string;
      comment?: string;
      createdAt: string;
      round: number;
    }>;
    checks?: Array<{ name: string; status: string; required: boolean }>;
    waivers?: Array<{ checkName: string; waivedBy: string; reason: string }>;
    submissions?: Array<{ round: number; submittedBy: string }>;
    auditTrail?: unknown[];
    [key: string]: unknown;
  };
};
