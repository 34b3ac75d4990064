import { setupServer } from 'msw/node';
import { createHash } from 'node:crypto';
import {
  downloadFile,
  listFiles,
  modelInfo,
  parseSafetensorsMetadata,
} from '@huggingface/hub';
import { createMockHfHandlers } from './msw';
import { createFixtureHub, FIXTURE_REPOS, FIXTURE_TOKENS } from './fixtures';

const hub = createFixtureHub();
const HUB = 'https://hub.test/prefix';
const server = setupServer(...createMockHfHandlers(hub, { baseUrl: HUB }));

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  hub.reset();
  hub.setPageSize({ tree: 1000 });
});
afterAll(() => server.close());

describe('createMockHfHandlers', () => {
  it('serves model info to a plain fetch', async () => {
    const res = await fetch(`${HUB}/api/models/${FIXTURE_REPOS.tinyLlm}`);
    expect(res.status).toBe(200);
    const info = await res.json();
    expect(info.id).toBe(FIXTURE_REPOS.tinyLlm);
    expect(info.sha).toBe(hub.headSha(FIXTURE_REPOS.tinyLlm));
    expect(info.siblings.map((s: any) => s.rfilename)).toContain(
      'onnx/model.onnx',
    );
    expect(hub.requests[0].path).toBe(`/api/models/${FIXTURE_REPOS.tinyLlm}`);
  });

  it('serves ranges, errors and HEAD like the server', async () => {
    const url = `${HUB}/${FIXTURE_REPOS.tinyLlm}/resolve/main/model.safetensors`;
    const info = hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'model.safetensors')!;
    const part = await fetch(url, { headers: { Range: 'bytes=0-7' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-7/${info.size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(8);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('x-linked-etag')).toBe(`"${info.sha256}"`);

    const missing = await fetch(
      `${HUB}/${FIXTURE_REPOS.tinyLlm}/resolve/main/nope`,
    );
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-error-code')).toBe('EntryNotFound');

    const gated = await fetch(
      `${HUB}/${FIXTURE_REPOS.gated}/resolve/main/model.safetensors`,
      {
        headers: { Authorization: `Bearer ${FIXTURE_TOKENS.user}` },
      },
    );
    expect(gated.status).toBe(403);
    expect(gated.headers.get('x-error-code')).toBe('GatedRepo');

    const full = await fetch(url);
    expect(
      createHash('sha256')
        .update(Buffer.from(await full.arrayBuffer()))
        .digest('hex'),
    ).toBe(info.sha256);
  });

  it('applies scripted faults (429, wrong bytes, cut)', async () => {
    const url = `${HUB}/${FIXTURE_REPOS.tinyLlm}/resolve/main/onnx/model.onnx`;
    const info = hub.fileInfo(FIXTURE_REPOS.tinyLlm, 'onnx/model.onnx')!;
    hub.script({
      match: { path: '*/model.onnx' },
      times: 1,
      fault: { status: 429, retryAfter: 3 },
    });
    const limited = await fetch(url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');

    hub.script({
      match: { path: '*/model.onnx' },
      times: 1,
      fault: { wrongBytes: true },
    });
    const wrong = await fetch(url);
    const body = Buffer.from(await wrong.arrayBuffer());
    expect(body.length).toBe(info.size);
    expect(createHash('sha256').update(body).digest('hex')).not.toBe(
      info.sha256,
    );

    hub.script({
      match: { path: '*/model.onnx' },
      times: 1,
      fault: { cutAfterBytes: 10 },
    });
    const cut = await fetch(url);
    await expect(cut.arrayBuffer()).rejects.toThrow();

    hub.script({
      match: { path: '*/model.onnx' },
      times: 1,
      fault: { resetConnection: true },
    });
    await expect(fetch(url)).rejects.toThrow();
  });

  it('works with the real client under a path-prefixed base URL', async () => {
    hub.setPageSize({ tree: 3 });
    const files = [];
    for await (const f of listFiles({
      repo: FIXTURE_REPOS.diffusion,
      recursive: true,
      hubUrl: HUB,
    })) {
      files.push(f);
    }
    expect(
      files
        .filter(f => f.type === 'file')
        .map(f => f.path)
        .sort(),
    ).toEqual(hub.filePaths(FIXTURE_REPOS.diffusion));
    expect(
      hub.findRequests({ path: '/api/models/*/tree/*' }).length,
    ).toBeGreaterThan(5);

    const info = await modelInfo({
      name: FIXTURE_REPOS.diffusion,
      hubUrl: HUB,
      additionalFields: ['config'],
    });
    expect(info.config).toMatchObject({
      diffusers: { _class_name: 'StableDiffusionPipeline' },
    });

    const blob = await downloadFile({
      repo: FIXTURE_REPOS.diffusion,
      path: 'model_index.json',
      hubUrl: HUB,
    });
    expect(JSON.parse(await blob!.text())._class_name).toBe(
      'StableDiffusionPipeline',
    );

    const meta = await parseSafetensorsMetadata({
      repo: FIXTURE_REPOS.embedding,
      hubUrl: HUB,
    });
    expect(meta.sharded).toBe(false);
  });
});
