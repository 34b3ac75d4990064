import { crc32, deflateRawSync } from 'node:zlib';

/** One entry of a hand-built zip; every field can be made hostile. */
export type RawEntry = {
  name: string | Buffer;
  data?: Buffer;
  /** 0 stored, 8 deflate (default), or anything else. */
  method?: number;
  /** Pre-compressed data (overrides compressing `data`). */
  compressed?: Buffer;
  /** Declared uncompressed size (defaults to the real one). */
  uncompressedSize?: number;
  /** Unix mode (file type and permissions) in the external attributes. */
  unixMode?: number;
  /** DOS attributes (low byte of the external attributes). */
  dosAttributes?: number;
  flags?: number;
  extra?: Buffer;
  comment?: Buffer;
  /** The name in the local header, when it should differ. */
  localName?: string;
  /** Point the central directory at another entry's local header. */
  localHeaderOf?: number;
  /** Compressed size declared in the central directory. */
  centralCompressedSize?: number;
};

/**
 * Writes a zip with full control of every header field, for hostile test
 * archives that zip libraries refuse to produce.
 */
export function writeZip(
  entries: RawEntry[],
  options: { comment?: Buffer } = {},
): Buffer {
  const locals: Buffer[] = [];
  const offsets: number[] = [];
  const metas: {
    name: Buffer;
    crc: number;
    csize: number;
    usize: number;
    method: number;
    e: RawEntry;
  }[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 8;
    const compressed =
      e.compressed ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = crc32(data);
    const usize = e.uncompressedSize ?? data.length;
    const localName =
      e.localName !== undefined ? Buffer.from(e.localName) : name;
    const extra = e.extra ?? Buffer.alloc(0);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE((e.flags ?? 0) | 0x800, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(compressed.length, 18);
    h.writeUInt32LE(usize, 22);
    h.writeUInt16LE(localName.length, 26);
    h.writeUInt16LE(extra.length, 28);
    offsets.push(offset);
    const local = Buffer.concat([h, localName, extra, compressed]);
    locals.push(local);
    offset += local.length;
    metas.push({ name, crc, csize: compressed.length, usize, method, e });
  }
  const central: Buffer[] = [];
  metas.forEach((m, i) => {
    const extra = m.e.extra ?? Buffer.alloc(0);
    const comment = m.e.comment ?? Buffer.alloc(0);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(0x02014b50, 0);
    h.writeUInt16LE(m.e.unixMode !== undefined ? (3 << 8) | 20 : 20, 4);
    h.writeUInt16LE(20, 6);
    h.writeUInt16LE((m.e.flags ?? 0) | 0x800, 8);
    h.writeUInt16LE(m.method, 10);
    h.writeUInt32LE(m.crc, 16);
    h.writeUInt32LE(m.e.centralCompressedSize ?? m.csize, 20);
    h.writeUInt32LE(m.usize, 24);
    h.writeUInt16LE(m.name.length, 28);
    h.writeUInt16LE(extra.length, 30);
    h.writeUInt16LE(comment.length, 32);
    const attrs = ((m.e.unixMode ?? 0) << 16) | (m.e.dosAttributes ?? 0);
    h.writeUInt32LE(attrs >>> 0, 38);
    h.writeUInt32LE(offsets[m.e.localHeaderOf ?? i], 42);
    central.push(Buffer.concat([h, m.name, extra, comment]));
  });
  const cd = Buffer.concat(central);
  const comment = options.comment ?? Buffer.alloc(0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...locals, cd, eocd, comment]);
}
