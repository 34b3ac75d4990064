import { CompoundEntityRef, parseEntityRef } from '@backstage/catalog-model';

/**
 * The entity references of a spec field, split into those that parse and the
 * raw strings of those that do not.
 */
export type ResolvedEntityRefs = {
  refs: CompoundEntityRef[];
  invalid: string[];
};

/**
 * Parses the entity references of a spec field the way the catalog does: a
 * missing kind defaults to `defaultKind`, a missing namespace to the
 * namespace of the entity that holds the field.
 */
export function resolveEntityRefs(
  values: ReadonlyArray<string> | string | undefined,
  options: { defaultKind: string; defaultNamespace?: string },
): ResolvedEntityRefs {
  const list = typeof values === 'string' ? [values] : values ?? [];
  const result: ResolvedEntityRefs = { refs: [], invalid: [] };
  for (const value of list) {
    if (typeof value !== 'string' || !value) {
      continue;
    }
    try {
      result.refs.push(
        parseEntityRef(value, {
          defaultKind: options.defaultKind,
          defaultNamespace: options.defaultNamespace ?? 'default',
        }),
      );
    } catch {
      result.invalid.push(value);
    }
  }
  return result;
}
