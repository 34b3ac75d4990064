import { ConfigReader } from '@backstage/config';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isDevHeaderAuthEnabled } from './devHeaderAuth';

const ROOT = join(__dirname, '../../../..');
const load = (...files: string[]) =>
  ConfigReader.fromConfigs(
    files.map(file => ({
      context: file,
      data: parse(readFileSync(join(ROOT, file), 'utf8')),
    })),
  );

const devAuth = (config: ConfigReader, nodeEnv = 'development') =>
  isDevHeaderAuthEnabled({
    enabled: config.getOptionalBoolean('modelHub.devAuth.enabled') ?? false,
    authEnvironment: config.getOptionalString('auth.environment'),
    nodeEnv,
  });

describe('the demo configs', () => {
  it('the plain demo config offers the example users, the mock Hub and the demo data', () => {
    const config = load('app-config.yaml');
    expect(devAuth(config)).toBe(true);
    expect(config.getConfig('auth.providers').has('dev-header')).toBe(true);
    expect(config.getBoolean('demo.mockHuggingFaceHub.enabled')).toBe(true);
    expect(config.getBoolean('demo.seed.enabled')).toBe(true);
    // the Hugging Face endpoint is the bundled mock Hub in this backend
    expect(config.getString('modelHub.huggingface.endpoint')).toBe(
      `${config.getString('backend.baseUrl')}/api/mock-hf`,
    );
  });

  it('the production overlay switches every development-only part off', () => {
    const config = load('app-config.yaml', 'app-config.production.yaml');
    expect(config.getString('auth.environment')).toBe('production');
    expect(devAuth(config, 'production')).toBe(false);
    expect(devAuth(config)).toBe(false);
    expect(config.getBoolean('demo.mockHuggingFaceHub.enabled')).toBe(false);
    expect(config.getBoolean('demo.seed.enabled')).toBe(false);
    expect(config.getString('modelHub.huggingface.endpoint')).not.toContain(
      'mock-hf',
    );
  });

  it('the plain demo config refuses to start its sign-in with production settings', () => {
    const config = load('app-config.yaml');
    expect(() => devAuth(config, 'production')).toThrow(/production/);
  });
});
