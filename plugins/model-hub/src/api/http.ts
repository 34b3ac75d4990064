import { parseEntityRef } from '@backstage/catalog-model';
import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import type { ModelRef } from './ModelHubApi';

type QueryValue = string | number | boolean | undefined | null;

/** Query parameters; arrays become repeated parameters. */
type Query = Record<string, QueryValue | QueryValue[]>;

/** Builds a query string; arrays become repeated parameters. */
export function toQueryString(query?: Query): string {
  if (!query) {
    return '';
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v !== undefined && v !== null && v !== '') {
        params.append(key, String(v));
      }
    }
  }
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}

/** `/models/{namespace}/{name}` of a model. */
export function modelPath(model: ModelRef): string {
  const { namespace, name } =
    typeof model === 'string'
      ? parseEntityRef(model, { defaultKind: 'model' })
      : model;
  return `/models/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

/** `/models/{namespace}/{name}/versions/{label}` of a version. */
export function versionPath(model: ModelRef, label: string): string {
  return `${modelPath(model)}/versions/${encodeURIComponent(label)}`;
}

/** Encodes each segment of a `/`-separated file path. */
export function filePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * The HTTP layer of the Model Hub client: the base URL from discovery, JSON
 * bodies, query strings and errors as `ResponseError`.
 */
export class ModelHubHttp {
  constructor(
    private readonly options: {
      discoveryApi: DiscoveryApi;
      fetchApi: FetchApi;
    },
  ) {}

  /** The base URL of the Model Hub backend. */
  async baseUrl(): Promise<string> {
    return this.options.discoveryApi.getBaseUrl('model-hub');
  }

  /** A request whose response is OK, else a `ResponseError`. */
  async fetch(
    method: string,
    path: string,
    options?: { query?: Query; body?: unknown; headers?: HeadersInit },
  ): Promise<Response> {
    const base = await this.baseUrl();
    const headers = new Headers(options?.headers);
    let body: string | undefined;
    if (options?.body !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(options.body);
    }
    const res = await this.options.fetchApi.fetch(
      `${base}${path}${toQueryString(options?.query)}`,
      { method, headers, body },
    );
    if (!res.ok) {
      throw await ResponseError.fromResponse(res);
    }
    return res;
  }

  /** A request's JSON answer (undefined for 204). */
  async request<T>(
    method: string,
    path: string,
    options?: { query?: Query; body?: unknown },
  ): Promise<T> {
    const res = await this.fetch(method, path, options);
    if (res.status === 204) {
      return undefined as T;
    }
    return (await res.json()) as T;
  }

  /** The `items` of a `GET` answer. */
  async items<T>(path: string, query?: Query): Promise<T[]> {
    const res = await this.request<{ items: T[] }>('GET', path, { query });
    return res.items;
  }
}
