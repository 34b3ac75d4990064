import { createRouteRef } from '@backstage/core-plugin-api';

/**
 * The route of the access tokens page of Model Hub (personal `hf_` tokens
 * for Hugging Face clients).
 *
 * @public
 */
export const accessTokensRouteRef = createRouteRef({
  id: 'model-hub:access-tokens',
});
