import { bufferSource, ByteSource, Cursor, FormatError } from './source';
import { InspectionLimits } from './types';

/** @internal */
export type OnnxInfo = {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  hasGraph: boolean;
};

/**
 * Reads the top-level fields of an ONNX `ModelProto` with a minimal
 * protobuf reader: `ir_version` (1), `producer_name` (2),
 * `producer_version` (3), `domain` (4), `model_version` (5), `graph` (7,
 * skipped by length, never read) and `opset_import` (8).
 *
 * @internal
 */
export async function inspectOnnx(
  source: ByteSource,
  limits: Pick<InspectionLimits, 'maxMetadataBytes'>,
): Promise<OnnxInfo> {
  const c = new Cursor(source, 0, limits.maxMetadataBytes);
  const info: OnnxInfo = { irVersion: 0, opsets: [], hasGraph: false };
  let fields = 0;
  while (c.remaining > 0) {
    if (++fields > 100_000) {
      throw new FormatError('too many top-level fields');
    }
    const key = await c.varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) {
      throw new FormatError('field number 0');
    }
    if (wire === 0) {
      const v = Number(await c.varint());
      if (field === 1) info.irVersion = v;
      if (field === 5) info.modelVersion = v;
    } else if (wire === 2) {
      const len = await c.varint();
      if (len > BigInt(c.remaining)) {
        throw new FormatError(
          `field ${field} of ${len} bytes runs past the end of the file`,
        );
      }
      const n = Number(len);
      if (field === 7) {
        info.hasGraph = true;
        c.skip(n);
      } else if (field >= 2 && field <= 4 && n <= 4096) {
        const s = (await c.take(n)).toString('utf8');
        if (field === 2) info.producerName = s;
        if (field === 3) info.producerVersion = s;
        if (field === 4) info.domain = s;
      } else if (field === 8 && n <= 4096) {
        const sub = new Cursor(bufferSource(Buffer.from(await c.take(n))));
        const opset = { domain: '', version: 0 };
        while (sub.remaining > 0) {
          const k = await sub.varint();
          const f = Number(k >> 3n);
          const w = Number(k & 7n);
          if (w === 0) {
            const v = Number(await sub.varint());
            if (f === 2) opset.version = v;
          } else if (w === 2) {
            const l = Number(await sub.varint());
            const b = await sub.take(l);
            if (f === 1) opset.domain = b.toString('utf8');
          } else {
            throw new FormatError(`opset_import has wire type ${w}`);
          }
        }
        info.opsets.push(opset);
      } else {
        c.skip(n);
      }
    } else if (wire === 1) {
      c.skip(8);
    } else if (wire === 5) {
      c.skip(4);
    } else {
      throw new FormatError(`unsupported wire type ${wire} (field ${field})`);
    }
  }
  if (!info.irVersion || info.irVersion > 100) {
    throw new FormatError('missing or invalid ir_version');
  }
  if (!info.opsets.length) {
    throw new FormatError('no opset_import');
  }
  return info;
}
