export interface Config {
  modelHub?: {
    /**
     * (Optional) Development-only sign-in of the demo portal. When enabled
     * (only `app-config.e2e.yaml` does), the sign-in page offers the example
     * users (alice, bob, carol, dana) through the `dev-header` auth provider,
     * and `/?as=<user>` signs in as that user; browser tests use it to act as
     * different users. The backend refuses to start with it in production.
     * Defaults to false.
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
