import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { inspectGguf } from './gguf';
import { inspectOnnx } from './onnx';
import { scanPickle } from './pickle';
import { inspectSafetensors } from './safetensors';
import { ByteSource, FormatError } from './source';
import { InspectionLimits, InspectionCheck } from './types';

/** Extensions of pickle-based formats (unsafe to load). @internal */
export const PICKLE_EXTENSIONS = [
  '.bin',
  '.pt',
  '.pth',
  '.pkl',
  '.pickle',
  '.joblib',
  '.ckpt',
];

function ext(path: string): string {
  const base = path.split('/').pop()!.toLocaleLowerCase('en-US');
  const i = base.lastIndexOf('.');
  return i < 0 ? '' : base.slice(i);
}

class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly source: ByteSource) {
    super();
  }
  _readStreamForRange(start: number, end: number) {
    const source = this.source;
    return Readable.from(
      (async function* read() {
        for (let p = start; p < end; p += 1024 * 1024) {
          yield await source.read(p, Math.min(1024 * 1024, end - p));
        }
      })(),
    );
  }
}

/** Reads the `*.pkl` entries of a zip (PyTorch's zip serialization). */
async function zipPickles(
  source: ByteSource,
  maxBytes: number,
): Promise<{ name: string; data: Buffer }[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(
      new SourceReader(source),
      source.size,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true },
      (err, z) => (err ? reject(err) : resolve(z!)),
    ),
  );
  const out: { name: string; data: Buffer }[] = [];
  let total = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!/\.pkl$/.test(entry.fileName) || entry.fileName.endsWith('/')) {
          zip.readEntry();
          return;
        }
        if (total + entry.uncompressedSize > maxBytes) {
          reject(new FormatError(`pickle data larger than ${maxBytes} bytes`));
          return;
        }
        zip.openReadStream(entry, (err, stream) => {
          if (err) {
            reject(err);
            return;
          }
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => {
            total += c.length;
            chunks.push(c);
          });
          stream.on('error', reject);
          stream.on('end', () => {
            out.push({ name: entry.fileName, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return out;
}

function fail(name: string, summary: string, details = {}): InspectionCheck {
  return { name, status: 'fail', summary, details };
}

async function pickleCheck(
  path: string,
  source: ByteSource,
  limits: InspectionLimits,
): Promise<InspectionCheck> {
  const name = `safety:pickle:${path}`;
  const head = await source.read(0, 4);
  let parts: { name: string; data: Buffer }[];
  let container: string;
  if (head.readUInt32BE(0) === 0x504b0304) {
    container = 'zip (PyTorch)';
    parts = await zipPickles(source, limits.maxPickleScanBytes);
  } else if (head[0] === 0x80 || head[0] === 0x28 || head[0] === 0x63) {
    container = 'raw pickle';
    parts = [
      { name: path, data: await source.read(0, limits.maxPickleScanBytes) },
    ];
  } else {
    return {
      name,
      status: 'warn',
      summary: `${ext(
        path,
      )} file that is neither a pickle nor a PyTorch zip; unknown binary format`,
      details: { unsafeFormat: false },
    };
  }
  const scans = parts.map(p => ({ entry: p.name, ...scanPickle(p.data) }));
  const imports = scans.flatMap(s => s.imports);
  const dangerous = imports.filter(i => i.severity === 'dangerous');
  const suspicious = imports.filter(i => i.severity === 'suspicious');
  const unresolved = scans.reduce((a, s) => a + s.unresolvedGlobals, 0);
  const details = {
    unsafeFormat: true,
    container,
    dangerousImports: dangerous.map(i => `${i.module}.${i.name}`),
    suspiciousImports: suspicious.map(i => `${i.module}.${i.name}`),
    unresolvedGlobals: unresolved,
    scans: scans.map(s => ({
      entry: s.entry,
      pickles: s.pickles,
      bytesScanned: s.bytesScanned,
      imports: s.imports.length,
      error: s.error,
    })),
  };
  if (dangerous.length) {
    return {
      name,
      status: 'fail',
      summary: `Pickle-based format imports dangerous globals: ${details.dangerousImports
        .slice(0, 5)
        .join(', ')}; never load it`,
      details,
    };
  }
  return {
    name,
    status: 'warn',
    summary: `Unsafe format: pickle-based ${container} can run code when loaded (not unpickled here); ${
      suspicious.length || unresolved
        ? `${suspicious.length} unknown imports, ${unresolved} unresolved`
        : 'no dangerous imports found'
    }; prefer safetensors`,
    details,
  };
}

/**
 * Inspects one file of a version by its extension and content, returning
 * the checks to store (none for files of no known format).
 *
 * @internal
 */
export async function inspectFile(
  path: string,
  source: ByteSource,
  limits: InspectionLimits,
): Promise<InspectionCheck[]> {
  const e = ext(path);
  const base = path.split('/').pop()!;
  try {
    if (e === '.safetensors') {
      const info = await inspectSafetensors(source, limits);
      return [
        {
          name: `format:safetensors:${path}`,
          status: 'pass',
          summary: `safetensors: ${info.tensorCount} tensors, ${
            info.parameterCount
          } parameters (${Object.keys(info.dtypes).join(', ')})`,
          details: info,
        },
      ];
    }
    if (e === '.gguf') {
      const info = await inspectGguf(source, limits);
      return [
        {
          name: `format:gguf:${path}`,
          status: info.architecture ? 'pass' : 'warn',
          summary: `GGUF v${info.version}: ${
            info.architecture ?? 'no general.architecture'
          }, ${info.tensorCount} tensors, ${info.parameterCount} parameters`,
          details: info,
        },
      ];
    }
    if (e === '.onnx') {
      const info = await inspectOnnx(source, limits);
      return [
        {
          name: `format:onnx:${path}`,
          status: info.hasGraph ? 'pass' : 'warn',
          summary: `ONNX IR ${info.irVersion}, opset ${info.opsets
            .map(o => `${o.domain || 'ai.onnx'}:${o.version}`)
            .join(', ')}${
            info.producerName ? `, by ${info.producerName}` : ''
          }`,
          details: info,
        },
      ];
    }
    if (base === 'config.json') {
      if (source.size > limits.maxConfigJsonBytes) {
        return [
          fail(
            `format:config:${path}`,
            `config.json larger than ${limits.maxConfigJsonBytes} bytes`,
          ),
        ];
      }
      let json: any;
      try {
        json = JSON.parse((await source.read(0, source.size)).toString('utf8'));
      } catch (err) {
        return [
          fail(
            `format:config:${path}`,
            `config.json is not valid JSON: ${(err as Error).message}`,
          ),
        ];
      }
      if (!json || typeof json !== 'object' || Array.isArray(json)) {
        return [
          fail(`format:config:${path}`, 'config.json is not a JSON object'),
        ];
      }
      const problems: string[] = [];
      if (typeof json.model_type !== 'string') {
        problems.push('no model_type');
      }
      if (
        !Array.isArray(json.architectures) ||
        json.architectures.some((a: unknown) => typeof a !== 'string')
      ) {
        problems.push('no architectures list');
      }
      return [
        {
          name: `format:config:${path}`,
          status: problems.length ? 'warn' : 'pass',
          summary: problems.length
            ? `config.json: ${problems.join(', ')}`
            : `config.json: ${json.model_type} (${json.architectures.join(
                ', ',
              )})`,
          details: {
            modelType: json.model_type,
            architectures: json.architectures,
            problems,
          },
        },
      ];
    }
    if (PICKLE_EXTENSIONS.includes(e)) {
      return [await pickleCheck(path, source, limits)];
    }
  } catch (error) {
    const kind = e === '.safetensors' ? 'safetensors' : e.slice(1) || 'file';
    const name = PICKLE_EXTENSIONS.includes(e)
      ? `safety:pickle:${path}`
      : `format:${kind}:${path}`;
    return [
      fail(name, `Invalid ${kind}: ${(error as Error).message}`, {
        unsafeFormat: PICKLE_EXTENSIONS.includes(e) || undefined,
      }),
    ];
  }
  return [];
}
