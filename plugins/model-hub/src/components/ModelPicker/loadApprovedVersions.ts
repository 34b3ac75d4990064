import { ModelHubApi } from '../../api';

/** An approved version the user may read, as an option of the picker. */
export type ApprovedVersionOption = {
  modelRef: string;
  version: string;
  title: string;
  revision?: string;
};

const PAGE = 100;
const MAX_MODELS = 500;

/**
 * The approved versions of the models the user may read: the backend lists
 * only readable models, filtered to those with an approved version, then each
 * model's versions are filtered to `approved`.
 */
export async function loadApprovedVersions(
  api: ModelHubApi,
  filter: { types?: string[]; owners?: string[] } = {},
): Promise<ApprovedVersionOption[]> {
  const models = [];
  for (let offset = 0; offset < MAX_MODELS; offset += PAGE) {
    const page = await api.listModels({
      state: ['approved'],
      type: filter.types,
      owner: filter.owners,
      offset,
      limit: PAGE,
      sort: 'name',
    });
    models.push(...page.items);
    if (offset + PAGE >= page.totalCount || page.items.length === 0) {
      break;
    }
  }
  const withVersions = await Promise.all(
    models.map(m => api.getModel({ namespace: m.namespace, name: m.name })),
  );
  return withVersions.flatMap(model =>
    model.versions
      .filter(v => v.state === 'approved')
      .map(v => ({
        modelRef: model.entityRef,
        version: v.label,
        title: model.title ?? model.name,
        revision: v.resolvedCommit ?? v.manifestDigest,
      })),
  );
}
