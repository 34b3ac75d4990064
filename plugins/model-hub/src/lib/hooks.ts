import { useRouteRef } from '@backstage/core-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { useCallback } from 'react';
import { rootRouteRef } from '../routes';

/** The sub-pages of the hub, relative to its root route. */
export const HUB_PATHS = {
  overview: 'overview',
  models: 'models',
  upload: 'upload',
  approvals: 'approvals',
  jobs: 'jobs',
  import: 'import',
  audit: 'audit',
  scan: 'scan',
  sources: 'sources',
} as const;

/** Whether an error is an HTTP 404 (an endpoint this backend lacks). */
export function isNotFound(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { statusCode?: number }).statusCode === 404 ||
      (error as { response?: { status?: number } }).response?.status === 404)
  );
}

/** Links to the hub's sub-pages and to the catalog pages of models. */
export function useHubLinks() {
  // where the app has not mounted a route, fall back to the default paths
  let root: (() => string) | undefined;
  let entity:
    | ((p: { kind: string; namespace: string; name: string }) => string)
    | undefined;
  // useRouteRef throws where a route is not mounted; it is called in every
  // render, in the same order, so the try blocks keep the rules of hooks
  try {
    // eslint-disable-next-line react-hooks/rules-of-hooks
    root = useRouteRef(rootRouteRef);
  } catch {
    root = undefined;
  }
  try {
    // eslint-disable-next-line react-hooks/rules-of-hooks
    entity = useRouteRef(entityRouteRef);
  } catch {
    entity = undefined;
  }
  const hub = useCallback(
    (sub: keyof typeof HUB_PATHS, query?: Record<string, string>) => {
      const base = root?.() ?? '/model-hub';
      const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
      return `${base.replace(/\/$/, '')}/${HUB_PATHS[sub]}${qs}`;
    },
    [root],
  );
  const catalog = useCallback(
    (ref: string) => {
      const { kind, namespace, name } = parseEntityRef(ref, {
        defaultKind: 'model',
        defaultNamespace: 'default',
      });
      const params = { kind: kind.toLocaleLowerCase('en-US'), namespace, name };
      return (
        entity?.(params) ??
        `/catalog/${params.namespace}/${params.kind}/${params.name}`
      );
    },
    [entity],
  );
  return { hub, catalog };
}
