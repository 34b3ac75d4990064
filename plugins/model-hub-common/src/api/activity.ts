import type { VersionState } from './core';

/** An entry of the audit trail (`GET /audit`). @public */
export type HubAuditEntry = {
  id: number | string;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  meta?: Record<string, unknown>;
  createdAt: string;
};

/** Filters and page of the audit trail (`GET /audit`). @public */
export type ListAuditRequest = {
  actor?: string[];
  model?: string[];
  event?: string[];
  /** ISO 8601 date or date-time. */
  from?: string;
  /** ISO 8601 date (inclusive) or date-time. */
  to?: string;
  offset?: number;
  limit?: number;
  order?: 'asc' | 'desc';
};

/** An entry of the recent activity (`GET /activity`). @public */
export type HubActivity = {
  id: string | number;
  eventId: string;
  actor: string;
  modelRef?: string;
  versionLabel?: string;
  status?: 'succeeded' | 'failed' | string;
  message?: string;
  createdAt: string;
};

/** Counts of the hub (`GET /stats`). @public */
export type HubStats = {
  models: number;
  versions: { total: number; byState: Partial<Record<VersionState, number>> };
  storage: { blobs: number; bytes: number; unreferencedBlobs?: number };
  jobs: { active: number; failed: number };
};

/** One day of the storage and downloads history (`GET /stats/history`). @public */
export type HubStatsPoint = {
  /** The day, `YYYY-MM-DD`. */
  date: string;
  storageBytes: number;
  downloads: number;
  downloadBytes?: number;
};

/** Whether local scanning is set up (`GET /scan`). @public */
export type HubScanStatus = { enabled: boolean; root?: string };

/** A model folder a local scan registered. @public */
export type HubScannedModel = {
  path: string;
  modelRef: string;
  version: string;
  files: number;
  bytes: number;
  created: boolean;
};
