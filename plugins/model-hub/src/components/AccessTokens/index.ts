export { AccessTokensContent, AccessTokensPage } from './AccessTokens';
export { accessTokensRouteRef } from './routes';
export type { AccessToken, CreatedAccessToken } from './AccessTokensClient';
