import { createRouteRef } from '@backstage/core-plugin-api';

/**
 * The route of the Model Hub root page. No page is mounted on it yet; it is
 * declared so that apps can already bind it, and so that the legacy and the
 * new frontend system share one ref.
 *
 * @public
 */
export const rootRouteRef = createRouteRef({ id: 'model-hub' });
