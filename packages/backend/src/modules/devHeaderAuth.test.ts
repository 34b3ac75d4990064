import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/config';
import { authProvidersExtensionPoint } from '@backstage/plugin-auth-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import authPlugin from '@backstage/plugin-auth-backend';
import request from 'supertest';
import {
  authModuleDevHeaderProvider,
  DEV_HEADER_PROVIDER_ID,
  DEV_USER_HEADER,
  isDevHeaderAuthEnabled,
  isLoopbackRequest,
} from './devHeaderAuth';

const development = {
  enabled: true,
  authEnvironment: 'development',
  nodeEnv: 'development',
};

describe('isDevHeaderAuthEnabled', () => {
  it('is off unless switched on', () => {
    expect(isDevHeaderAuthEnabled({ ...development, enabled: false })).toBe(
      false,
    );
    expect(
      isDevHeaderAuthEnabled({
        enabled: false,
        authEnvironment: 'production',
        nodeEnv: 'production',
      }),
    ).toBe(false);
    expect(isDevHeaderAuthEnabled(development)).toBe(true);
    expect(isDevHeaderAuthEnabled({ ...development, nodeEnv: undefined })).toBe(
      true,
    );
  });

  it('refuses NODE_ENV=production', () => {
    expect(() =>
      isDevHeaderAuthEnabled({ ...development, nodeEnv: 'production' }),
    ).toThrow(/never allowed in production/);
  });

  it('refuses any auth.environment but an explicit development', () => {
    for (const authEnvironment of ['production', 'staging', undefined]) {
      expect(() =>
        isDevHeaderAuthEnabled({ ...development, authEnvironment }),
      ).toThrow(/needs auth.environment: development/);
    }
  });
});

describe('isLoopbackRequest', () => {
  const req = (
    remoteAddress: string,
    headers: Record<string, string> = {},
  ) => ({
    socket: { remoteAddress },
    headers,
  });

  it('accepts loopback peers', () => {
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackRequest(req(address))).toBe(true);
    }
  });

  it('refuses other peers', () => {
    for (const address of [
      '10.0.0.5',
      '192.168.1.20',
      '::ffff:10.0.0.5',
      'fe80::1',
      '::',
      '0.0.0.0',
      '1270.0.0.1',
      '',
    ]) {
      expect(isLoopbackRequest(req(address))).toBe(false);
    }
    expect(isLoopbackRequest({ headers: {} })).toBe(false);
  });

  it('refuses requests that came through a proxy', () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      expect(
        isLoopbackRequest(req('127.0.0.1', { [header]: '10.0.0.5' })),
      ).toBe(false);
    }
  });
});

describe('authModuleDevHeaderProvider', () => {
  const start = (data: JsonObject) => {
    const registerProvider = jest.fn();
    const started = startTestBackend({
      extensionPoints: [[authProvidersExtensionPoint, { registerProvider }]],
      features: [
        authModuleDevHeaderProvider,
        mockServices.rootConfig.factory({ data }),
      ],
    });
    return { registerProvider, started };
  };
  const enabled = {
    auth: { environment: 'development' },
    modelHub: { devAuth: { enabled: true } },
  };

  it('registers no provider by default', async () => {
    const { registerProvider, started } = start({});
    await started;
    expect(registerProvider).not.toHaveBeenCalled();
  });

  it('registers no provider when disabled', async () => {
    const { registerProvider, started } = start({
      auth: { environment: 'development' },
      modelHub: { devAuth: { enabled: false } },
    });
    await started;
    expect(registerProvider).not.toHaveBeenCalled();
  });

  it('registers the dev-header provider when enabled in development', async () => {
    const { registerProvider, started } = start(enabled);
    await started;
    expect(registerProvider).toHaveBeenCalledWith(
      expect.objectContaining({ providerId: DEV_HEADER_PROVIDER_ID }),
    );
  });

  it('fails the start-up when enabled outside auth.environment development', async () => {
    const { registerProvider, started } = start({
      ...enabled,
      auth: { environment: 'production' },
    });
    await expect(started).rejects.toThrow(/auth.environment/);
    expect(registerProvider).not.toHaveBeenCalled();
  });

  it('fails the start-up when enabled in production', async () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const { registerProvider, started } = start(enabled);
      await expect(started).rejects.toThrow(/never allowed in production/);
      expect(registerProvider).not.toHaveBeenCalled();
    } finally {
      process.env.NODE_ENV = env;
    }
  });
});

describe('the dev-header sign-in in the auth backend', () => {
  jest.setTimeout(60_000);

  it('signs in example users from this machine and refuses proxied callers', async () => {
    const { server } = await startTestBackend({
      features: [
        authPlugin,
        authModuleDevHeaderProvider,
        catalogServiceMock.factory({
          entities: [
            {
              apiVersion: 'backstage.io/v1alpha1',
              kind: 'User',
              metadata: { name: 'alice', namespace: 'default' },
              spec: { memberOf: ['ml-engineers'] },
            },
          ],
        }),
        mockServices.rootConfig.factory({
          data: {
            app: { baseUrl: 'http://localhost:3000' },
            auth: {
              environment: 'development',
              providers: { [DEV_HEADER_PROVIDER_ID]: {} },
            },
            modelHub: { devAuth: { enabled: true } },
          },
        }),
      ],
    });
    const refresh = `/api/auth/${DEV_HEADER_PROVIDER_ID}/refresh`;

    const alice = await request(server)
      .get(refresh)
      .set(DEV_USER_HEADER, 'alice');
    expect(alice.status).toBe(200);
    expect(alice.body.backstageIdentity.identity.userEntityRef).toBe(
      'user:default/alice',
    );

    // the same request relayed by a proxy on this machine
    const proxied = await request(server)
      .get(refresh)
      .set(DEV_USER_HEADER, 'alice')
      .set('x-forwarded-for', '203.0.113.7');
    expect(proxied.status).toBe(403);
    expect(proxied.body.backstageIdentity).toBeUndefined();

    const malformed = await request(server)
      .get(refresh)
      .set(DEV_USER_HEADER, '../admin');
    expect(malformed.status).toBe(401);

    // not a catalog user
    const mallory = await request(server)
      .get(refresh)
      .set(DEV_USER_HEADER, 'mallory');
    expect(mallory.status).toBeGreaterThanOrEqual(400);
    expect(mallory.body.backstageIdentity).toBeUndefined();
  });
});
