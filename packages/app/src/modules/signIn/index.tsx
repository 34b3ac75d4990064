import { SignInPage } from '@backstage/core-components';
import {
  configApiRef,
  createFrontendModule,
  useApi,
} from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint } from '@backstage/plugin-app-react';
import type { SignInPageProps } from '@backstage/core-plugin-api';
import { DevSignInPage } from './DevSignInPage';

function DemoSignInPage(props: SignInPageProps) {
  const config = useApi(configApiRef);
  // development sign-in as the example users (the demo config, app-config.yaml)
  if (config.getOptionalBoolean('modelHub.devAuth.enabled')) {
    return <DevSignInPage {...props} />;
  }
  return <SignInPage {...props} auto providers={['guest']} />;
}

/**
 * The demo portal signs in with Backstage's guest provider; see the README
 * for signing in as one of the example users.
 */
const signInPage = SignInPageBlueprint.make({
  params: {
    loader: async () => DemoSignInPage,
  },
});

export const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [signInPage],
});
