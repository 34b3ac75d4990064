import { redactUrl, redactUrlsInText } from './redactUrl';

describe('redactUrl', () => {
  it('drops user info and credential query values, keeps the rest', () => {
    expect(
      redactUrl(
        'https://svc:p%40ss@hub.example.com:8443/api/models/a/b?revision=main&token=hf_abc&X-Amz-Signature=deadbeef&api_key=k1#frag',
      ),
    ).toBe(
      'https://***@hub.example.com:8443/api/models/a/b?revision=main&token=***&X-Amz-Signature=***&api_key=***',
    );
    expect(redactUrl('http://127.0.0.1:5555/api/models/acme/tiny')).toBe(
      'http://127.0.0.1:5555/api/models/acme/tiny',
    );
    expect(redactUrl('https://user@example.com/')).toBe(
      'https://***@example.com/',
    );
    expect(redactUrl('not a url with hf_secret')).toBe('<invalid URL>');
  });

  it('keeps only the origin of targets whose path can be the secret', () => {
    expect(
      redactUrl('https://hooks.example.com/services/T0/B0/XyZsecret?x=1', {
        keepPath: false,
      }),
    ).toBe('https://hooks.example.com/***');
    expect(redactUrl('https://hooks.example.com/', { keepPath: false })).toBe(
      'https://hooks.example.com',
    );
  });

  it('redacts every URL in a text, and only URLs', () => {
    const text =
      'request to https://a:b@hub.example.com/x?access_token=t0k3n failed; retried https://ok.example.com/y?page=2 (ECONNRESET)';
    expect(redactUrlsInText(text)).toBe(
      'request to https://***@hub.example.com/x?access_token=*** failed; retried https://ok.example.com/y?page=2 (ECONNRESET)',
    );
    expect(
      redactUrlsInText('POST https://hooks.example.com/T0/B0/secret: 500', {
        keepPath: false,
      }),
    ).toBe('POST https://hooks.example.com/***: 500');
    expect(redactUrlsInText('no url here')).toBe('no url here');
  });

  it('takes linear time on long inputs', () => {
    const long = `https://h.example.com/${'a/'.repeat(
      200_000,
    )}?token=${'x'.repeat(100_000)} ${'http:'.repeat(100_000)}`;
    const start = process.hrtime.bigint();
    const out = redactUrlsInText(long);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(out).toContain('?token=***');
    expect(out).not.toContain('xxxx');
    expect(ms).toBeLessThan(1000);
  });
});
