import { inspectFile } from './inspectFile';
import { inspectGguf } from './gguf';
import { inspectOnnx } from './onnx';
import { scanPickle } from './pickle';
import { inspectSafetensors } from './safetensors';
import { bufferSource } from './source';
import { DEFAULT_INSPECTION_LIMITS as LIMITS } from './types';
import {
  benignTorchPickle,
  globalPickle,
  makeGguf,
  makeOnnx,
  makeSafetensors,
  maliciousStackGlobalPickle,
  torchZip,
} from './__testUtils__/generators';

/** A deterministic pseudo-random generator (tests must be reproducible). */
function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('safetensors', () => {
  it('counts parameters exactly on generated files', async () => {
    const random = rng(42);
    const dtypes = ['F32', 'F16', 'BF16', 'I64', 'U8'];
    for (let file = 0; file < 25; file++) {
      const tensors = Array.from(
        { length: 1 + Math.floor(random() * 30) },
        (_, i) => ({
          name: `layer.${i}.weight`,
          dtype: dtypes[Math.floor(random() * dtypes.length)],
          shape: Array.from({ length: Math.floor(random() * 4) }, () =>
            Math.floor(random() * 17),
          ),
        }),
      );
      const expected = tensors.reduce(
        (a, t) => a + t.shape.reduce((x, d) => x * d, 1),
        0,
      );
      const info = await inspectSafetensors(
        bufferSource(makeSafetensors(tensors)),
        LIMITS,
      );
      expect(info.parameterCount).toBe(expected);
      expect(info.tensorCount).toBe(tensors.length);
    }
  });

  it('counts huge tensors exactly from the header alone', async () => {
    // a header-only source: the tensor data is never read
    const shape = [1 << 20, 1 << 20, 1 << 10, 3]; // 3 * 2^50 elements
    const bytes = 3 * 2 ** 50;
    const header = {
      big: { dtype: 'U8', shape, data_offsets: [0, bytes] },
      small: { dtype: 'F16', shape: [7], data_offsets: [bytes, bytes + 14] },
    };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const head = Buffer.concat([len, json]);
    const info = await inspectSafetensors(
      {
        size: head.length + bytes + 14,
        read: async (s, l) => head.subarray(s, s + l),
      },
      LIMITS,
    );
    expect(info.parameterCount).toBe(3 * 2 ** 50 + 7);
    expect(info.dtypes).toEqual({ U8: 3 * 2 ** 50, F16: 7 });
  });

  it('keeps metadata and dtypes', async () => {
    const info = await inspectSafetensors(
      bufferSource(
        makeSafetensors(
          [
            { name: 'a', dtype: 'F16', shape: [2, 3] },
            { name: 'b', dtype: 'F32', shape: [4] },
          ],
          { metadata: { format: 'pt' } },
        ),
      ),
      LIMITS,
    );
    expect(info).toMatchObject({
      parameterCount: 10,
      dtypes: { F16: 6, F32: 4 },
      metadata: { format: 'pt' },
    });
  });

  it.each([
    [
      'a header larger than the limit',
      (b: Buffer) => {
        b.writeBigUInt64LE(200_000_000n);
      },
      /larger than the limit/,
    ],
    [
      'a header past the end',
      (b: Buffer) => {
        b.writeBigUInt64LE(BigInt(b.length));
      },
      /past the end/,
    ],
    [
      'invalid JSON',
      (b: Buffer) => {
        b.write('!', 8);
      },
      /not valid JSON/,
    ],
  ])('rejects %s', async (_name, mutate, message) => {
    const buf = makeSafetensors([{ name: 'a', dtype: 'F32', shape: [2] }]);
    mutate(buf);
    await expect(inspectSafetensors(bufferSource(buf), LIMITS)).rejects.toThrow(
      message,
    );
  });

  it.each([
    [
      'an unknown dtype',
      (h: any) => {
        h.a.dtype = 'Q7';
      },
      /unknown dtype/,
    ],
    [
      'a negative dimension',
      (h: any) => {
        h.a.shape = [-1];
      },
      /invalid shape/,
    ],
    [
      'a size mismatch',
      (h: any) => {
        h.a.data_offsets = [0, 4];
      },
      /needs 8/,
    ],
    [
      'overlapping tensors',
      (h: any) => {
        h.b.data_offsets = [4, 12];
      },
      /overlaps|needs/,
    ],
    [
      'a gap',
      (h: any) => {
        h.b.data_offsets = [12, 20];
        h.a.data_offsets = [0, 8];
      },
      /gap|covers/,
    ],
  ])('rejects %s', async (_name, mutate, message) => {
    const buf = makeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2] },
        { name: 'b', dtype: 'F32', shape: [2] },
      ],
      { mutate },
    );
    await expect(inspectSafetensors(bufferSource(buf), LIMITS)).rejects.toThrow(
      message,
    );
  });
});

describe('gguf', () => {
  it('reads metadata and counts parameters', async () => {
    const buf = makeGguf({
      kv: {
        'general.architecture': 'llama',
        'general.name': 'tiny',
        'llama.block_count': 2,
        'tokenizer.ggml.tokens': ['a', 'b', 'c'],
      },
      tensors: [
        { name: 'tok_embd.weight', dims: [64, 100] },
        { name: 'output_norm.weight', dims: [64] },
      ],
    });
    const info = await inspectGguf(bufferSource(buf), LIMITS);
    expect(info).toMatchObject({
      version: 3,
      tensorCount: 2,
      architecture: 'llama',
      name: 'tiny',
      parameterCount: 6464,
      metadata: {
        'llama.block_count': 2,
        'tokenizer.ggml.tokens': { type: 'array', length: 3 },
      },
    });
  });

  it('rejects a bad magic and truncated headers', async () => {
    await expect(
      inspectGguf(bufferSource(Buffer.alloc(32)), LIMITS),
    ).rejects.toThrow(/magic/);
    const buf = makeGguf({
      kv: { 'general.architecture': 'llama' },
      tensors: [],
    });
    await expect(
      inspectGguf(bufferSource(buf.subarray(0, buf.length - 3)), LIMITS),
    ).rejects.toThrow(/end of file/);
  });
});

describe('onnx', () => {
  it('reads ir_version, opset and producer, skipping the graph', async () => {
    const info = await inspectOnnx(
      bufferSource(
        makeOnnx({
          irVersion: 8,
          opset: 17,
          producer: 'pytorch',
          graphBytes: 5000,
        }),
      ),
      LIMITS,
    );
    expect(info).toEqual({
      irVersion: 8,
      opsets: [{ domain: '', version: 17 }],
      producerName: 'pytorch',
      producerVersion: '1.0',
      hasGraph: true,
    });
  });

  it('rejects garbage', async () => {
    await expect(
      inspectOnnx(bufferSource(Buffer.from('hello world')), LIMITS),
    ).rejects.toThrow();
  });
});

describe('pickle scan', () => {
  it('finds GLOBAL and memo-hidden STACK_GLOBAL imports', () => {
    expect(scanPickle(globalPickle('os', 'system')).imports).toEqual([
      { module: 'os', name: 'system', severity: 'dangerous' },
    ]);
    expect(
      scanPickle(maliciousStackGlobalPickle('subprocess', 'Popen')).imports,
    ).toEqual([{ module: 'subprocess', name: 'Popen', severity: 'dangerous' }]);
    expect(
      scanPickle(globalPickle('builtins', 'eval')).imports[0].severity,
    ).toBe('dangerous');
    expect(
      scanPickle(globalPickle('posix', 'system')).imports[0].severity,
    ).toBe('dangerous');
    expect(
      scanPickle(globalPickle('socket', 'socket')).imports[0].severity,
    ).toBe('dangerous');
    expect(scanPickle(globalPickle('mylib', 'Thing')).imports[0].severity).toBe(
      'unverified',
    );
  });

  it('passes benign torch state dicts', () => {
    const scan = scanPickle(benignTorchPickle());
    expect(scan.error).toBeUndefined();
    expect(scan.pickles).toBe(1);
    expect(scan.imports.map(i => i.severity)).toEqual(['safe', 'safe']);
  });
});

describe('inspectFile', () => {
  it('scans every pickle-based file, failing dangerous ones', async () => {
    for (const path of [
      'pytorch_model.bin',
      'model.pt',
      'm.pth',
      'x.pkl',
      'y.joblib',
      'z.ckpt',
    ]) {
      const [check] = await inspectFile(
        path,
        bufferSource(benignTorchPickle()),
        LIMITS,
      );
      expect(check).toMatchObject({
        name: `safety:pickle:${path}`,
        status: 'warn',
        details: { unsafeFormat: true },
      });
      expect(check.summary).toMatch(/only allowlisted globals/);
    }
    const [bad] = await inspectFile(
      'evil.pkl',
      bufferSource(globalPickle('os', 'system')),
      LIMITS,
    );
    expect(bad).toMatchObject({
      status: 'fail',
      details: { dangerousImports: ['os.system'] },
    });
  });

  it('scans data.pkl inside PyTorch zip files', async () => {
    const evil = await torchZip(maliciousStackGlobalPickle('os', 'system'));
    const [check] = await inspectFile(
      'pytorch_model.bin',
      bufferSource(evil),
      LIMITS,
    );
    expect(check).toMatchObject({
      status: 'fail',
      details: { container: 'zip', dangerousImports: ['os.system'] },
    });
    const good = await torchZip(benignTorchPickle());
    const [ok] = await inspectFile('model.pt', bufferSource(good), LIMITS);
    expect(ok).toMatchObject({
      status: 'warn',
      details: { dangerousImports: [] },
    });
  });

  it('checks safetensors, gguf, onnx and config.json', async () => {
    const st = await inspectFile(
      'model.safetensors',
      bufferSource(
        makeSafetensors([{ name: 'w', dtype: 'F32', shape: [3, 4] }]),
      ),
      LIMITS,
    );
    expect(st[0]).toMatchObject({
      status: 'pass',
      details: { parameterCount: 12 },
    });
    const broken = await inspectFile(
      'model.safetensors',
      bufferSource(Buffer.alloc(4)),
      LIMITS,
    );
    expect(broken[0]).toMatchObject({
      name: 'format:safetensors:model.safetensors',
      status: 'fail',
    });
    const gg = await inspectFile(
      'm.gguf',
      bufferSource(
        makeGguf({
          kv: { 'general.architecture': 'qwen2' },
          tensors: [{ name: 't', dims: [2, 2] }],
        }),
      ),
      LIMITS,
    );
    expect(gg[0]).toMatchObject({
      status: 'pass',
      details: { architecture: 'qwen2', parameterCount: 4 },
    });
    const on = await inspectFile(
      'm.onnx',
      bufferSource(makeOnnx({ irVersion: 9, opset: 18, producer: 'x' })),
      LIMITS,
    );
    expect(on[0].status).toBe('pass');
    const cfg = await inspectFile(
      'config.json',
      bufferSource(
        Buffer.from(
          JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] }),
        ),
      ),
      LIMITS,
    );
    expect(cfg[0]).toMatchObject({
      status: 'pass',
      details: { modelType: 'bert' },
    });
    const cfgWarn = await inspectFile(
      'sub/config.json',
      bufferSource(Buffer.from('{}')),
      LIMITS,
    );
    expect(cfgWarn[0].status).toBe('warn');
    const cfgBad = await inspectFile(
      'config.json',
      bufferSource(Buffer.from('{')),
      LIMITS,
    );
    expect(cfgBad[0].status).toBe('fail');
    expect(
      await inspectFile('README.md', bufferSource(Buffer.from('hi')), LIMITS),
    ).toEqual([]);
  });
});
