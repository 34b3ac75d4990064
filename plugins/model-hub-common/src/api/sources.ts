/** The last status check of a model source. @public */
export type HubSourceStatus = {
  reachable?: boolean;
  /** valid, invalid, none (no token), unknown (not checked or unreachable). */
  credentials: 'valid' | 'invalid' | 'none' | 'unknown';
  account?: string;
  rateLimit?: {
    limited: boolean;
    remaining?: number;
    limit?: number;
    resetSeconds?: number;
    policy?: string;
  };
  lastError?: string;
  checkedAt?: string;
  lastOkAt?: string;
  failingSince?: string;
  lastSuccessfulSyncAt?: string;
};

/** A model source (`GET /sources`): never a token. @public */
export type HubSource = {
  name: string;
  kind: 'huggingface' | 'local' | string;
  origin: 'config' | 'runtime';
  default: boolean;
  endpoint?: string;
  root?: string;
  namespace: string;
  include: string[];
  exclude: string[];
  allowedOrganizations: string[];
  schedule?: { frequency?: unknown };
  hasToken: boolean;
  /** Admins only: where the token comes from. */
  tokenRef?: string;
  status: HubSourceStatus;
  /** What is wrong with it, for its models' pages. */
  problem?: string;
  references: { models: number; versions: number };
  createdBy?: string;
  createdAt?: string;
  /** `GET /sources/of-model/...`: false when the source is gone from the config. */
  configured?: boolean;
};

/** A model that came from a source (`GET /sources/{name}/models`). @public */
export type HubSourceReference = {
  entityRef: string;
  namespace: string;
  name: string;
  title?: string;
  repoId?: string;
  syncState?: string;
  versions: number;
};

/** A source added at run time (`POST /sources`). @public */
export type CreateSourceRequest = {
  name: string;
  kind: 'huggingface';
  endpoint: string;
  /** `env:NAME` or `config:modelHub.sourceSecrets.KEY`; never a token. */
  tokenRef?: string;
  include?: string[];
  exclude?: string[];
  allowedOrganizations?: string[];
  namespace?: string;
  syncMinutes?: number;
};
