import { mockErrorHandler } from '@backstage/backend-test-utils';
import {
  createMockHfServer,
  MockHfServer,
  MockHub,
} from '@model-hub/mock-hf-server';
import express from 'express';
import request from 'supertest';
import { BODY_LIMITS, checkJsonDepth, jsonBody } from '../service/jsonBody';
import { trimChar, trimEndWhere, trimWhere } from '../service/linearText';
import {
  HuggingFaceClient,
  MAX_API_RESPONSE_BYTES,
  MAX_TEXT_FILE_BYTES,
} from './HuggingFaceClient';
import { MAX_CARD_BYTES } from './HuggingFaceSync';
import {
  MAX_FRONT_MATTER_CHARS,
  parseModelCard,
  toEntityName,
} from './metadata';

describe('bounded request input', () => {
  it('trims in linear time what backtracking patterns took seconds for', () => {
    const slashes = `a${'/'.repeat(1_000_000)}b`;
    const started = Date.now();
    expect(trimChar(`//${slashes}//`, '/')).toBe(slashes);
    expect(trimChar('////', '/')).toBe('');
    expect(trimWhere('..a.b--', c => c === '.' || c === '-')).toBe('a.b');
    expect(trimEndWhere('ab-._', c => !/[a-z]/.test(c))).toBe('ab');
    expect(toEntityName(`Org/${'-.'.repeat(200_000)}x`)).toMatch(
      /^org-[0-9a-z]{7}$/,
    );
    expect(toEntityName('Acme/Tiny-LLM')).toBe('acme--tiny-llm');
    expect(toEntityName('__/__')).toBe('model');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses JSON nested deeper than 32 levels before parsing it', () => {
    expect(() =>
      checkJsonDepth(Buffer.from(`${'['.repeat(32)}${']'.repeat(32)}`)),
    ).not.toThrow();
    expect(() =>
      checkJsonDepth(Buffer.from(`${'['.repeat(33)}${']'.repeat(33)}`)),
    ).toThrow('The JSON body nests arrays and objects deeper than 32 levels');
    // brackets inside strings, escaped quotes included, do not count
    expect(() =>
      checkJsonDepth(
        Buffer.from(JSON.stringify({ a: `\\"${'['.repeat(1000)}` })),
      ),
    ).not.toThrow();
  });

  it('answers 413 above the limit of a route and 400 for deep nesting', async () => {
    const app = express()
      .post('/small', jsonBody(BODY_LIMITS.small), (req, res) => {
        res.json({ keys: Object.keys(req.body) });
      })
      .use(mockErrorHandler());
    await request(app)
      .post('/small')
      .send({ a: 'x'.repeat(1000) })
      .expect(200, { keys: ['a'] });
    await request(app)
      .post('/small')
      .send({ a: 'x'.repeat(17 * 1024) })
      .expect(413);
    const deep = await request(app)
      .post('/small')
      .set('Content-Type', 'application/json')
      .send(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`)
      .expect(400);
    expect(deep.body.error.message).toBe(
      'The JSON body nests arrays and objects deeper than 32 levels',
    );
  });
});

describe('bounded upstream reads', () => {
  let hf: MockHfServer;

  beforeAll(async () => {
    const hub = new MockHub();
    const front = `---\nlicense: mit\ntags: [a]\n---\n`;
    hub.addRepo({
      id: 'big/card',
      files: [
        {
          path: 'README.md',
          content: `${front}${'x'.repeat(MAX_CARD_BYTES + 1000)}`,
        },
        {
          path: 'config.json',
          content: `{"model_type":"${'y'.repeat(MAX_TEXT_FILE_BYTES)}"}`,
        },
      ],
    });
    hub.addRepo({
      id: 'big/front',
      files: [
        {
          path: 'README.md',
          content: `---\nlicense: mit\nnote: ${'z'.repeat(
            MAX_FRONT_MATTER_CHARS,
          )}\n---\n`,
        },
      ],
    });
    hub.addRepo({
      id: 'big/nested',
      files: [
        {
          path: 'README.md',
          content: `---\nlicense: mit\nx: ${'['.repeat(40_000)}${']'.repeat(
            40_000,
          )}\n---\n`,
        },
      ],
    });
    hf = await createMockHfServer({ hub });
  });

  afterAll(() => hf.close());

  it('reads a model card up to its cap and a metadata file only under its cap', async () => {
    const client = new HuggingFaceClient({ endpoint: hf.url });
    const info = await client.getModelInfo('big/card', 'main');
    const card = await client.readText(
      'big/card',
      info.sha,
      'README.md',
      undefined,
      {
        maxBytes: MAX_CARD_BYTES,
        truncate: true,
      },
    );
    expect(card).toHaveLength(MAX_CARD_BYTES);
    expect(parseModelCard(card).license).toBe('mit');
    await expect(
      client.readText('big/card', info.sha, 'config.json'),
    ).rejects.toThrow(
      `config.json of big/card is larger than ${MAX_TEXT_FILE_BYTES} bytes`,
    );
  });

  it('parses a card front matter only when it is small and shallow', async () => {
    const client = new HuggingFaceClient({ endpoint: hf.url });
    for (const repo of ['big/front', 'big/nested']) {
      const info = await client.getModelInfo(repo, 'main');
      const text = await client.readText(repo, info.sha, 'README.md');
      const started = Date.now();
      expect(parseModelCard(text)).toEqual({
        baseModels: [],
        datasets: [],
        tags: [],
        data: {},
      });
      expect(Date.now() - started).toBeLessThan(100);
    }
  });

  it('fails an upstream JSON answer larger than the cap', async () => {
    const huge = JSON.stringify({
      id: 'big/json',
      sha: 'a'.repeat(40),
      padding: 'p'.repeat(MAX_API_RESPONSE_BYTES),
    });
    const client = new HuggingFaceClient({
      endpoint: 'http://hub.invalid',
      retry: { maxRetries: 0 },
      fetch: (async () =>
        new Response(
          new ReadableStream({
            start(controller) {
              // streamed, without Content-Length
              for (let i = 0; i < huge.length; i += 1 << 20) {
                controller.enqueue(Buffer.from(huge.slice(i, i + (1 << 20))));
              }
              controller.close();
            },
          }),
          { status: 200, headers: { 'Content-Type': 'application/json' } },
        )) as typeof fetch,
    });
    await expect(client.getModelInfo('big/json', 'main')).rejects.toThrow(
      `the Hub's answer is larger than ${MAX_API_RESPONSE_BYTES} bytes`,
    );
  });
});
