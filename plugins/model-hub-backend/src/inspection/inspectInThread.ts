import { inspectGguf } from './gguf';
import { inspectOnnx } from './onnx';
import { fail, pickleCheck } from './pickleCheck';
import { sniffPickle } from './pickleSources';
import { inspectSafetensors } from './safetensors';
import { ByteSource } from './source';
import { InspectionLimits, InspectionCheck } from './types';

/**
 * Extensions of pickle-based formats (unsafe to load): PyTorch checkpoints,
 * raw pickles, joblib, NumPy arrays (`np.load` unpickles object arrays and
 * files without the NumPy magic). Files of other names are sniffed too.
 *
 * @internal
 */
export const PICKLE_EXTENSIONS = [
  '.bin',
  '.pt',
  '.pth',
  '.pkl',
  '.pickle',
  '.p',
  '.pk',
  '.pck',
  '.pcl',
  '.joblib',
  '.sav',
  '.ckpt',
  '.npy',
  '.npz',
];

function ext(path: string): string {
  const base = path.split('/').pop()!.toLocaleLowerCase('en-US');
  const i = base.lastIndexOf('.');
  return i < 0 ? '' : base.slice(i);
}

const FORMATS: Record<string, string> = {
  '.safetensors': 'safetensors',
  '.gguf': 'gguf',
  '.onnx': 'onnx',
};

/**
 * The check a file's inspection records when it cannot complete (a
 * malformed file, a worker that ran out of time or memory): the format
 * check of a known format, else the safety check (files of other names are
 * inspected only when they hold pickles).
 *
 * @internal
 */
export function failedInspection(
  path: string,
  reason: string,
): InspectionCheck {
  const e = ext(path);
  const base = path.split('/').pop()!;
  if (FORMATS[e]) {
    return fail(
      `format:${FORMATS[e]}:${path}`,
      `Invalid ${FORMATS[e]}: ${reason}`,
    );
  }
  if (base === 'config.json') {
    return fail(`format:config:${path}`, `Invalid config.json: ${reason}`);
  }
  return fail(
    `safety:pickle:${path}`,
    `Safety scan could not complete: ${reason}; the file is unverified`,
    { unsafeFormat: true },
  );
}

/**
 * Inspects one file of a version by its extension and content, in the
 * calling thread, returning the checks to store (none for files of no
 * known format that hold no pickle). Runs in an inspection worker: see
 * {@link inspectFile}.
 *
 * @internal
 */
export async function inspectFileInThread(
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
    const byExtension = PICKLE_EXTENSIONS.includes(e);
    if (byExtension || (await sniffPickle(source))) {
      const check = await pickleCheck(path, source, limits, byExtension);
      return check ? [check] : [];
    }
  } catch (error) {
    // malformed input, a zip yauzl cannot read, a failed read: fail closed
    return [failedInspection(path, String((error as Error)?.message ?? error))];
  }
  return [];
}
