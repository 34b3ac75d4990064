import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { authProvidersExtensionPoint } from '@backstage/plugin-auth-node';
import {
  authModuleDevHeaderProvider,
  DEV_HEADER_PROVIDER_ID,
  isDevHeaderAuthEnabled,
} from './devHeaderAuth';

describe('isDevHeaderAuthEnabled', () => {
  it('is off unless switched on', () => {
    expect(isDevHeaderAuthEnabled(false, 'development')).toBe(false);
    expect(isDevHeaderAuthEnabled(false, 'production')).toBe(false);
    expect(isDevHeaderAuthEnabled(true, 'development')).toBe(true);
    expect(isDevHeaderAuthEnabled(true, undefined)).toBe(true);
  });

  it('refuses production', () => {
    expect(() => isDevHeaderAuthEnabled(true, 'production')).toThrow(
      /never allowed in production/,
    );
  });
});

describe('authModuleDevHeaderProvider', () => {
  const start = (enabled?: boolean) => {
    const registerProvider = jest.fn();
    const started = startTestBackend({
      extensionPoints: [[authProvidersExtensionPoint, { registerProvider }]],
      features: [
        authModuleDevHeaderProvider,
        mockServices.rootConfig.factory({
          data:
            enabled === undefined ? {} : { modelHub: { devAuth: { enabled } } },
        }),
      ],
    });
    return { registerProvider, started };
  };

  it('registers no provider by default', async () => {
    const { registerProvider, started } = start();
    await started;
    expect(registerProvider).not.toHaveBeenCalled();
  });

  it('registers no provider when disabled', async () => {
    const { registerProvider, started } = start(false);
    await started;
    expect(registerProvider).not.toHaveBeenCalled();
  });

  it('registers the dev-header provider when enabled', async () => {
    const { registerProvider, started } = start(true);
    await started;
    expect(registerProvider).toHaveBeenCalledWith(
      expect.objectContaining({ providerId: DEV_HEADER_PROVIDER_ID }),
    );
  });

  it('fails the start-up when enabled in production', async () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const { registerProvider, started } = start(true);
      await expect(started).rejects.toThrow(/never allowed in production/);
      expect(registerProvider).not.toHaveBeenCalled();
    } finally {
      process.env.NODE_ENV = env;
    }
  });
});
