/*
 * Small, real model files for the demo data, made at seed time: valid
 * safetensors, GGUF (v3) and ONNX files with a few tensors of deterministic
 * values, and a pickle that a loader would run code from.
 */
import { createHash } from 'node:crypto';

/** Deterministic float32 values from a seed (a hash chain, scaled to ±0.1). */
function floats(count: number, seed: string): Buffer {
  const out = Buffer.alloc(count * 4);
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < count; i++) {
    if (i % 8 === 0 && i > 0) {
      block = createHash('sha256').update(block).digest();
    }
    const u = block.readUInt32LE((i % 8) * 4) / 0xffffffff;
    out.writeFloatLE((u - 0.5) * 0.2, i * 4);
  }
  return out;
}

export interface DemoTensor {
  name: string;
  shape: number[];
}

const elements = (shape: number[]) => shape.reduce((a, d) => a * d, 1);

/** A safetensors file of F32 tensors. */
export function safetensorsFile(
  tensors: DemoTensor[],
  seed: string,
  metadata: Record<string, string> = { format: 'pt' },
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const data: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = elements(t.shape) * 4;
    header[t.name] = {
      dtype: 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    data.push(floats(elements(t.shape), `${seed}/${t.name}`));
    offset += bytes;
  }
  // the header is padded with spaces to a multiple of 8 bytes, as the
  // reference implementation does
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), ...data]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const ggufString = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([u64(b.length), b]);
};

const GGUF_TYPE_UINT32 = 4;
const GGUF_TYPE_STRING = 8;
const GGML_TYPE_F32 = 0;
const GGUF_ALIGNMENT = 32;

/**
 * A GGUF v3 file: string and uint32 metadata, F32 tensors (GGUF lists
 * dimensions innermost first) and their data, aligned to 32 bytes.
 */
export function ggufFile(
  kv: Record<string, string | number>,
  tensors: DemoTensor[],
  seed: string,
): Buffer {
  const parts: Buffer[] = [
    Buffer.from('GGUF'),
    u32(3),
    u64(tensors.length),
    u64(Object.keys(kv).length),
  ];
  for (const [key, value] of Object.entries(kv)) {
    parts.push(ggufString(key));
    if (typeof value === 'string') {
      parts.push(u32(GGUF_TYPE_STRING), ggufString(value));
    } else {
      parts.push(u32(GGUF_TYPE_UINT32), u32(value));
    }
  }
  const data: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    parts.push(
      ggufString(t.name),
      u32(t.shape.length),
      ...[...t.shape].reverse().map(u64),
      u32(GGML_TYPE_F32),
      u64(offset),
    );
    const bytes = floats(elements(t.shape), `${seed}/${t.name}`);
    const padded = Math.ceil(bytes.length / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
    data.push(bytes, Buffer.alloc(padded - bytes.length));
    offset += padded;
  }
  const header = Buffer.concat(parts);
  const pad =
    (GGUF_ALIGNMENT - (header.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
  return Buffer.concat([header, Buffer.alloc(pad), ...data]);
}

// --- protobuf (ONNX) ------------------------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const pbVarint = (field: number, n: number) =>
  Buffer.concat([varint(field << 3), varint(n)]);
const pbBytes = (field: number, payload: Buffer | string) => {
  const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
};

const ONNX_FLOAT = 1;

function valueInfo(name: string, shape: number[]): Buffer {
  const dims = Buffer.concat(
    shape.map(d => pbBytes(1, pbVarint(1, d))), // Dimension.dim_value
  );
  const tensorType = Buffer.concat([
    pbVarint(1, ONNX_FLOAT), // elem_type
    pbBytes(2, dims), // shape
  ]);
  return Buffer.concat([
    pbBytes(1, name),
    pbBytes(2, pbBytes(1, tensorType)), // TypeProto.tensor_type
  ]);
}

/**
 * An ONNX model (IR 8, opset 17): `output = MatMul(input, weight)` with the
 * weight as an initializer, so the graph has a node, an input, an output
 * and real weights.
 */
export function onnxFile(options: {
  inputs: number;
  outputs: number;
  seed: string;
  graphName: string;
}): Buffer {
  const { inputs, outputs } = options;
  const weight = Buffer.concat([
    ...[inputs, outputs].map(d => pbVarint(1, d)), // dims
    pbVarint(2, ONNX_FLOAT), // data_type
    pbBytes(8, 'weight'), // name
    pbBytes(9, floats(inputs * outputs, `${options.seed}/weight`)), // raw_data
  ]);
  const node = Buffer.concat([
    pbBytes(1, 'input'),
    pbBytes(1, 'weight'),
    pbBytes(2, 'output'),
    pbBytes(3, 'matmul_0'),
    pbBytes(4, 'MatMul'),
  ]);
  const graph = Buffer.concat([
    pbBytes(1, node),
    pbBytes(2, options.graphName),
    pbBytes(5, weight),
    pbBytes(11, valueInfo('input', [1, inputs])),
    pbBytes(12, valueInfo('output', [1, outputs])),
  ]);
  return Buffer.concat([
    pbVarint(1, 8), // ir_version
    pbBytes(2, 'model-hub-demo'), // producer_name
    pbBytes(3, '1.0'), // producer_version
    pbBytes(7, graph),
    pbBytes(8, Buffer.concat([pbBytes(1, ''), pbVarint(2, 17)])), // opset_import
  ]);
}

/**
 * A protocol-2 pickle whose loading would call `os.system(...)`: what a
 * poisoned `joblib`/`pickle` model file looks like. Never loaded here; the
 * hub's safety check must fail it.
 */
export function dangerousPickle(command: string): Buffer {
  const arg = Buffer.from(command, 'latin1');
  return Buffer.concat([
    Buffer.from([0x80, 0x02]), // PROTO 2
    Buffer.from('cos\nsystem\n', 'latin1'), // GLOBAL os.system
    Buffer.from([0x58]), // BINUNICODE
    u32(arg.length),
    arg,
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
  ]);
}

/** A `config.json` of a Llama-style model. */
export function llamaConfig(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    `${JSON.stringify(
      {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: 64,
        intermediate_size: 128,
        num_attention_heads: 4,
        num_key_value_heads: 4,
        num_hidden_layers: 2,
        vocab_size: 256,
        max_position_embeddings: 2048,
        torch_dtype: 'float32',
        ...extra,
      },
      null,
      2,
    )}\n`,
  );
}
