import { createRouteRef } from '@backstage/core-plugin-api';

/**
 * The route of the Model Hub page (`/model-hub`; its sub-pages are
 * `overview`, `models`, `upload`, `approvals`, `jobs` and `import`). The
 * legacy and the new frontend system share this ref.
 *
 * @public
 */
export const rootRouteRef = createRouteRef({ id: 'model-hub' });
