import { ConfigReader } from '@backstage/config';
import {
  assertTokenRef,
  readSourcesConfig,
  readSourceStatusConfig,
  resolveToken,
} from './config';

const read = (modelHub: Record<string, unknown>) =>
  readSourcesConfig(new ConfigReader({ modelHub } as any), { cwd: '/srv' });

describe('readSourcesConfig', () => {
  it('reads the single huggingface block as the source huggingface, unchanged', () => {
    expect(read({})).toEqual([
      expect.objectContaining({
        name: 'huggingface',
        kind: 'huggingface',
        endpoint: 'https://huggingface.co',
        tokenRef: undefined,
        namespace: 'default',
        origin: 'config',
      }),
    ]);
    const [source] = read({
      huggingface: {
        endpoint: 'https://hub.example/',
        token: 'hf_secret',
        include: ['*.safetensors'],
        allowedOrganizations: ['Acme'],
        namespace: 'hub',
      },
      scan: { root: 'models' },
    });
    expect(source).toMatchObject({
      name: 'huggingface',
      endpoint: 'https://hub.example',
      tokenRef: 'config:modelHub.huggingface.token',
      include: ['*.safetensors'],
      allowedOrganizations: ['acme'],
      namespace: 'hub',
    });
    expect(JSON.stringify(source)).not.toContain('hf_secret');
    // the scan root is the local source
    expect(
      read({ scan: { root: 'models' } }).map(s => [s.name, s.kind, s.root]),
    ).toEqual([
      ['huggingface', 'huggingface', undefined],
      ['local', 'local', '/srv/models'],
    ]);
  });

  it('reads modelHub.sources; the block is a source only when it names an upstream', () => {
    const sources = read({
      huggingface: { fetch: 'on-demand' },
      sources: [
        { name: 'public' },
        { name: 'corp', endpoint: 'http://hub.corp', tokenEnv: 'HF_CORP_TOKEN' },
        { name: 'disk', kind: 'local', root: '/mnt/models' },
      ],
    });
    expect(sources.map(s => [s.name, s.endpoint ?? s.root, s.tokenRef, s.namespace])).toEqual([
      ['public', 'https://huggingface.co', undefined, 'default'],
      ['corp', 'http://hub.corp', 'env:HF_CORP_TOKEN', 'corp'],
      ['disk', '/mnt/models', undefined, 'disk'],
    ]);
    expect(
      read({
        huggingface: { endpoint: 'https://huggingface.co' },
        sources: [{ name: 'corp', endpoint: 'http://hub.corp' }],
      }).map(s => s.name),
    ).toEqual(['huggingface', 'corp']);
  });

  it('refuses impossible sources with the key that is wrong', () => {
    expect(() => read({ sources: [{ name: 'Bad Name' }] })).toThrow(
      /modelHub.sources\[0\].name must be lower-case/,
    );
    expect(() => read({ sources: [{ name: 'a' }, { name: 'a' }] })).toThrow(
      /'a' is used twice/,
    );
    expect(() => read({ sources: [{ name: 'a', kind: 'ftp' }] })).toThrow(/kind must be one of/);
    expect(() => read({ sources: [{ name: 'a', kind: 'local' }] })).toThrow(/root is required/);
    expect(() => read({ sources: [{ name: 'a', endpoint: 'ftp://x' }] })).toThrow(/http\(s\) URL/);
    expect(() => read({ sources: [{ name: 'a', endpoint: 'https://u:p@x' }] })).toThrow(
      /without credentials/,
    );
    expect(() => read({ sources: [{ name: 'a', tokenEnv: 'PATH' }] })).toThrow(/tokenRef must be/);
  });
});

describe('token references', () => {
  it('allows HF_/MODEL_HUB_ variables and modelHub.sourceSecrets only', () => {
    expect(() => assertTokenRef('env:HF_CORP_TOKEN')).not.toThrow();
    expect(() => assertTokenRef('env:MODEL_HUB_TOKEN_2')).not.toThrow();
    expect(() => assertTokenRef('config:modelHub.sourceSecrets.corp')).not.toThrow();
    for (const ref of [
      'hf_plaintexttoken',
      'env:AWS_SECRET_ACCESS_KEY',
      'env:hf_lower',
      'config:backend.auth.keys',
      'config:modelHub.sourceSecrets.a.b',
      'config:modelHub.huggingface.token',
    ]) {
      expect(() => assertTokenRef(ref)).toThrow(/tokenRef must be/);
    }
  });

  it('resolves references from the environment and the config', () => {
    const config = new ConfigReader({
      modelHub: {
        huggingface: { token: 'hf_block' },
        sources: [{ name: 'corp', token: 'hf_inline' }],
        sourceSecrets: { mirror: 'hf_mirror' },
      },
    });
    expect(resolveToken(config, 'env:HF_X', { HF_X: 'hf_env' })).toBe('hf_env');
    expect(resolveToken(config, 'env:HF_Y', {})).toBeUndefined();
    expect(resolveToken(config, 'config:modelHub.sourceSecrets.mirror')).toBe('hf_mirror');
    expect(resolveToken(config, 'config:modelHub.huggingface.token')).toBe('hf_block');
    expect(resolveToken(config, 'config:modelHub.sources.corp.token')).toBe('hf_inline');
    expect(resolveToken(config, undefined)).toBeUndefined();
  });

  it('reads the status settings', () => {
    expect(readSourceStatusConfig(new ConfigReader({}))).toEqual({
      frequency: { minutes: 5 },
      notify: ['group:default/ml-admins'],
    });
    expect(
      readSourceStatusConfig(
        new ConfigReader({
          modelHub: { sourceStatus: { frequency: { minutes: 1 }, notify: ['group:default/ops'] } },
        }),
      ),
    ).toEqual({ frequency: { minutes: 1 }, notify: ['group:default/ops'] });
  });
});
