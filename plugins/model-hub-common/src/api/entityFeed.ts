/**
 * A hub model as `GET /entity-feed` returns it: every hub model except
 * those defined in the catalog itself, with its Hugging Face sync state.
 * The catalog's entity provider reads it.
 *
 * @public
 */
export type ModelHubFeedItem = {
  entityRef: string;
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  type: string;
  task?: string;
  format?: string;
  license?: string;
  lifecycle: string;
  owner: string;
  sourceType: string;
  source?: unknown;
  tags: string[];
  updatedAt: string;
  huggingface?: {
    repoId: string;
    revision: string;
    lastSyncedCommit?: string;
    upstreamCommit?: string;
    drift: boolean;
    gated?: string;
    baseModels: string[];
    datasets: string[];
  };
};

/**
 * A page of `GET /entity-feed`: with `since`, only models changed since then
 * and the refs of models deleted since then; `now` is the `since` of the
 * next delta.
 *
 * @public
 */
export type ModelHubFeedPage = {
  items: ModelHubFeedItem[];
  /** Entity refs of models deleted since `since`. */
  removed: string[];
  /** Keyset cursor of the next page. */
  nextCursor?: string;
  now: string;
};
