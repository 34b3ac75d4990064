import type { JobState } from './core';

/** A background job (sync, import, inspection; `GET /jobs/{id}`). @public */
export type HubJob = {
  id: string;
  type: string;
  state: JobState;
  modelRef?: string;
  params?: Record<string, unknown>;
  progress?: {
    /** 0 to 1, or absent when unknown. */
    fraction?: number;
    bytesDone?: number;
    bytesTotal?: number;
    filesDone?: number;
    filesTotal?: number;
    message?: string;
    [key: string]: unknown;
  };
  attempts?: number;
  maxAttempts?: number;
  leasedBy?: string;
  leaseExpiresAt?: string;
  error?: string;
  createdBy?: string;
  createdAt: string;
  updatedAt?: string;
  startedAt?: string;
  finishedAt?: string;
};

/** A log line of a job (`GET /jobs/{id}/logs`). @public */
export type HubJobLog = {
  id: number;
  createdAt: string;
  level: string;
  message: string;
};

/** Filters and page of the jobs list (`GET /jobs`). @public */
export type ListJobsRequest = {
  offset?: number;
  limit?: number;
  state?: JobState[];
  type?: string;
  model?: string;
};
