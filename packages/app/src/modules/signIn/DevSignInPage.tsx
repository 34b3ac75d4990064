import { ProxiedSignInPage, SignInPage } from '@backstage/core-components';
import type { SignInPageProps } from '@backstage/core-plugin-api';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Paper from '@material-ui/core/Paper';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';

/** The example users of the demo org, with what the demo policy lets them do. */
export const DEV_USERS = [
  { name: 'alice', role: 'ML engineer: creates models, uploads, submits' },
  { name: 'bob', role: 'Reviewer: reviews and approves' },
  { name: 'carol', role: 'No group: reads and downloads' },
  { name: 'dana', role: 'Admin: everything' },
] as const;

const STORAGE_KEY = 'model-hub-dev-user';
const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The user to sign in as: `?as=<user>`, else the one chosen in this tab. */
export function chosenDevUser(): string | undefined {
  const fromQuery = new URLSearchParams(window.location.search).get('as');
  if (fromQuery && USER_NAME.test(fromQuery)) {
    window.sessionStorage.setItem(STORAGE_KEY, fromQuery);
    return fromQuery;
  }
  const stored = window.sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  return stored && USER_NAME.test(stored) ? stored : undefined;
}

/**
 * DEVELOPMENT ONLY, shown when `modelHub.devAuth.enabled` is true (the demo
 * config `app-config.yaml`; the backend answers it only in
 * `auth.environment: development`, from this machine): sign in as one of the
 * example users through the backend's `dev-header` provider, or as guest
 * (the usual guest page, with the example users in a panel). The choice
 * holds for the browser tab; `/?as=bob` signs in as bob.
 */
export function DevSignInPage(props: SignInPageProps) {
  const [user, setUser] = useState(chosenDevUser);

  if (user) {
    return (
      <ProxiedSignInPage
        {...props}
        provider="dev-header"
        headers={{ 'x-model-hub-dev-user': user }}
      />
    );
  }
  return (
    <>
      <SignInPage {...props} auto providers={['guest']} />
      <Paper
        elevation={6}
        style={{
          position: 'fixed',
          right: 16,
          bottom: 16,
          padding: 16,
          maxWidth: 420,
        }}
        aria-label="Development sign-in"
      >
        <Typography variant="subtitle2" gutterBottom>
          Sign in as an example user (development only)
        </Typography>
        {DEV_USERS.map(u => (
          <Box
            key={u.name}
            display="flex"
            alignItems="center"
            style={{ gap: 8 }}
            mb={0.5}
          >
            <Button
              size="small"
              variant="outlined"
              onClick={() => {
                window.sessionStorage.setItem(STORAGE_KEY, u.name);
                setUser(u.name);
              }}
            >
              Sign in as {u.name}
            </Button>
            <Typography variant="caption">{u.role}</Typography>
          </Box>
        ))}
      </Paper>
    </>
  );
}
