export interface Config {
  modelHub?: {
    /**
     * (Optional) Development-only sign-in of the demo portal. When enabled
     * (the demo config `app-config.yaml` does; `app-config.production.yaml`
     * does not), the sign-in page offers the example users (alice, bob,
     * carol, dana) through the `dev-header` auth provider, and `/?as=<user>`
     * signs in as that user; browser tests use it to act as different users.
     * The backend refuses to start with it unless `auth.environment` is
     * `development`, and answers it only from this machine. Defaults to false.
     */
    devAuth?: {
      /**
       * (Optional) Whether the development sign-in is offered. Defaults to
       * false.
       * @visibility frontend
       */
      enabled?: boolean;
    };
  };
}
