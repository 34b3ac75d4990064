import { createHash } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '@backstage/errors';
import yauzl from 'yauzl';
import { parseFilePath } from '../service/validation';
import { ARCHIVE_EXTENSIONS, ArchiveOptions } from './limits';
import { MANIFEST_FILES } from './manifest';

/** A file of the archive, extracted into the staging folder. @internal */
export type StagedFile = {
  path: string;
  stagedPath: string;
  sha256: string;
  size: number;
};

const S_IFMT = 0o170000;
const FILE_TYPES: Record<number, string> = {
  0o120000: 'a symbolic link',
  0o010000: 'a FIFO',
  0o020000: 'a character device',
  0o060000: 'a block device',
  0o140000: 'a socket',
};
const DOS_DIRECTORY = 0x10;
const DOS_REPARSE_POINT = 0x400;
const WRITE_CHUNK = 1024 * 1024;

function reject(message: string): never {
  throw new InputError(`Invalid archive: ${message}`);
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject_) =>
    yauzl.open(
      path,
      {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: true,
        validateEntrySizes: true,
        strictFileNames: true,
      } as yauzl.Options,
      (err, zip) =>
        err
          ? reject_(new InputError(`Invalid archive: ${err.message}`))
          : resolve(zip!),
    ),
  );
}

/** Reads every central directory entry, without reading any content. */
async function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject_) => {
    zip.on('error', (e: Error) =>
      reject_(
        e instanceof InputError
          ? e
          : new InputError(`Invalid archive: ${e.message}`),
      ),
    );
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.readEntry();
  });
  return entries;
}

function readLocalHeader(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
): Promise<{
  fileDataStart: number;
  fileName: Buffer;
  extraFieldLength: number;
}> {
  return new Promise((resolve, reject_) =>
    (zip as any).readLocalFileHeader(entry, {}, (err: Error | null, h: any) =>
      err
        ? reject_(
            new InputError(
              `Invalid archive: ${entry.fileName}: ${err.message}`,
            ),
          )
        : resolve(h),
    ),
  );
}

function entryType(entry: yauzl.Entry): string | undefined {
  const madeBy = entry.versionMadeBy >> 8;
  const attrs = entry.externalFileAttributes >>> 0;
  if (madeBy === 3 /* Unix */ || madeBy === 19 /* OS X */) {
    const type = (attrs >>> 16) & S_IFMT;
    if (FILE_TYPES[type]) {
      return FILE_TYPES[type];
    }
    if (type !== 0 && type !== 0o100000 && type !== 0o040000) {
      return `an entry of unknown type 0o${type.toString(8)}`;
    }
  }
  if (attrs & DOS_REPARSE_POINT) {
    return 'a link (reparse point)';
  }
  return undefined;
}

function isDirectory(entry: yauzl.Entry): boolean {
  return (
    entry.fileName.endsWith('/') ||
    ((entry.externalFileAttributes >>> 16) & S_IFMT) === 0o040000 ||
    (entry.externalFileAttributes & DOS_DIRECTORY) !== 0
  );
}

function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject_) =>
    zip.openReadStream(entry, (err, stream) =>
      err
        ? reject_(
            new InputError(
              `Invalid archive: ${entry.fileName}: ${err.message}`,
            ),
          )
        : resolve(stream!),
    ),
  );
}

/** Checks the central directory of a nested zip that is stored as a file. */
async function checkNestedZip(
  path: string,
  name: string,
  options: ArchiveOptions,
) {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (e) {
    reject(`nested archive ${name}: ${(e as Error).message}`);
  }
  try {
    if (zip.entryCount > options.maxEntries) {
      reject(`nested archive ${name} has ${zip.entryCount} entries`);
    }
    let total = 0;
    for (const e of await readEntries(zip)) {
      total += e.uncompressedSize;
      if (
        total > options.maxTotalBytes ||
        (e.uncompressedSize > options.ratioThresholdBytes &&
          e.uncompressedSize / Math.max(1, e.compressedSize) >
            options.maxCompressionRatio) ||
        ARCHIVE_EXTENSIONS.test(e.fileName)
      ) {
        reject(
          `nested archive ${name} is a zip bomb or holds further archives (${e.fileName})`,
        );
      }
    }
  } finally {
    zip.close();
  }
}

/**
 * Validates a ZIP archive completely from its central directory and local
 * headers before extracting anything, then extracts its files into
 * `stagingDir` (one temporary file per entry, hashed while written).
 *
 * Rejected with an `InputError` (400): names that are absolute, contain
 * `..`, `.` or empty segments, backslashes, drive letters or control
 * characters; symbolic links, devices, FIFOs, sockets and reparse points;
 * duplicate names, also after Unicode NFC normalisation and case folding,
 * and a file that is also a folder; encrypted entries and unknown
 * compression; more entries than allowed, entries or a total larger than
 * allowed (declared and actual bytes), compression ratios above the limit;
 * entries whose data overlap or whose local header disagrees with the
 * central directory; oversized comments and extra fields; nested archives
 * (unless stored).
 *
 * @internal
 */
export async function extractZip(options: {
  archivePath: string;
  stagingDir: string;
  limits: ArchiveOptions;
}): Promise<{ files: StagedFile[]; manifests: Map<string, Buffer> }> {
  const { limits } = options;
  const zip = await openZip(options.archivePath);
  try {
    if (zip.entryCount > limits.maxEntries) {
      reject(
        `${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`,
      );
    }
    if (Buffer.byteLength(String(zip.comment ?? '')) > limits.maxCommentBytes) {
      reject(`archive comment larger than ${limits.maxCommentBytes} bytes`);
    }
    const entries = await readEntries(zip);
    const seen = new Map<string, string>();
    const folders = new Set<string>();
    const files: yauzl.Entry[] = [];
    let declaredTotal = 0;
    for (const entry of entries) {
      const name = entry.fileName;
      if (entry.extraFieldLength > limits.maxExtraFieldBytes) {
        reject(`${name}: extra field of ${entry.extraFieldLength} bytes`);
      }
      if (entry.fileCommentLength > limits.maxCommentBytes) {
        reject(`${name}: comment of ${entry.fileCommentLength} bytes`);
      }
      const type = entryType(entry);
      if (type) {
        reject(
          `${name} is ${type}; only regular files and folders are allowed`,
        );
      }
      if (/^[a-zA-Z]:/.test(name)) {
        reject(`${name}: absolute path (drive letter)`);
      }
      const dir = isDirectory(entry);
      let path: string;
      try {
        path = parseFilePath(dir ? name.replace(/\/$/, '') : name);
      } catch (e) {
        reject(`entry ${JSON.stringify(name)}: ${(e as Error).message}`);
      }
      const key = path.normalize('NFC').toLocaleLowerCase('en-US');
      const previous = seen.get(key);
      if (previous !== undefined) {
        reject(
          `duplicate entry ${JSON.stringify(
            name,
          )} (same name as ${JSON.stringify(
            previous,
          )} after Unicode normalisation and case folding)`,
        );
      }
      seen.set(key, name);
      const segments = key.split('/');
      for (let i = 1; i < segments.length; i++) {
        folders.add(segments.slice(0, i).join('/'));
      }
      if (dir) {
        if (entry.uncompressedSize !== 0) {
          reject(`${name}: a folder with content`);
        }
        continue;
      }
      if (entry.isEncrypted()) {
        reject(`${name} is encrypted`);
      }
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        reject(
          `${name} uses unsupported compression method ${entry.compressionMethod}`,
        );
      }
      if (limits.nestedArchives === 'reject' && ARCHIVE_EXTENSIONS.test(path)) {
        reject(`${name} is a nested archive; nested archives are not allowed`);
      }
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        reject(
          `${name} is ${entry.uncompressedSize} bytes uncompressed, more than the limit of ${limits.maxEntryBytes}`,
        );
      }
      declaredTotal += entry.uncompressedSize;
      if (declaredTotal > limits.maxTotalBytes) {
        reject(
          `more than the limit of ${limits.maxTotalBytes} bytes uncompressed in total (zip bomb?)`,
        );
      }
      if (
        entry.uncompressedSize > limits.ratioThresholdBytes &&
        entry.uncompressedSize / Math.max(1, entry.compressedSize) >
          limits.maxCompressionRatio
      ) {
        reject(
          `${name} has a compression ratio of ${Math.round(
            entry.uncompressedSize / Math.max(1, entry.compressedSize),
          )}:1, above the limit of ${limits.maxCompressionRatio}:1 (zip bomb?)`,
        );
      }
      files.push(entry);
    }
    for (const entry of files) {
      const key = entry.fileName.normalize('NFC').toLocaleLowerCase('en-US');
      if (folders.has(key)) {
        reject(`${entry.fileName} is both a file and a folder`);
      }
    }

    // local headers: data ranges do not overlap, names agree
    const ranges: { start: number; end: number; name: string }[] = [];
    const localNames: { entry: yauzl.Entry; name: string }[] = [];
    for (const entry of entries) {
      const header = await readLocalHeader(zip, entry);
      if (header.extraFieldLength > limits.maxExtraFieldBytes) {
        reject(
          `${entry.fileName}: local extra field of ${header.extraFieldLength} bytes`,
        );
      }
      const end = header.fileDataStart + entry.compressedSize;
      if (end > zip.fileSize) {
        reject(`${entry.fileName}: data runs past the end of the archive`);
      }
      ranges.push({
        start: entry.relativeOffsetOfLocalHeader,
        end,
        name: entry.fileName,
      });
      localNames.push({
        entry,
        name: header.fileName.toString(
          entry.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1',
        ),
      });
    }
    ranges.sort((a, b) => a.start - b.start);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i].start < ranges[i - 1].end) {
        reject(
          `entries ${ranges[i - 1].name} and ${
            ranges[i].name
          } overlap (overlapping-entry zip bomb)`,
        );
      }
    }
    for (const { entry, name } of localNames) {
      if (name !== entry.fileName) {
        reject(`${entry.fileName}: local header names ${JSON.stringify(name)}`);
      }
    }

    // extraction into staging, hashing while writing, counting actual bytes
    const staged: StagedFile[] = [];
    const manifests = new Map<string, Buffer>();
    let actualTotal = 0;
    for (const [index, entry] of files.entries()) {
      const path = parseFilePath(entry.fileName);
      const stagedPath = join(options.stagingDir, `${index}.part`);
      const hash = createHash('sha256');
      const handle = await fs.open(
        stagedPath,
        fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY,
        0o600,
      );
      let size = 0;
      const keep = MANIFEST_FILES.includes(path);
      const kept: Buffer[] = [];
      try {
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        const stream = await openStream(zip, entry);
        try {
          for await (const chunk of stream) {
            const buf = chunk as Buffer;
            size += buf.length;
            actualTotal += buf.length;
            if (
              size > limits.maxEntryBytes ||
              actualTotal > limits.maxTotalBytes
            ) {
              reject(`${entry.fileName}: more bytes than allowed (zip bomb?)`);
            }
            if (keep) {
              if (size > 1024 * 1024) {
                reject(`${entry.fileName}: manifest larger than 1 MiB`);
              }
              kept.push(buf);
            }
            hash.update(buf);
            pending.push(buf);
            pendingBytes += buf.length;
            if (pendingBytes >= WRITE_CHUNK) {
              await handle.write(Buffer.concat(pending, pendingBytes));
              pending = [];
              pendingBytes = 0;
            }
          }
        } catch (e) {
          stream.destroy();
          if (e instanceof InputError) {
            throw e;
          }
          reject(`${entry.fileName}: ${(e as Error).message}`);
        }
        if (pendingBytes) {
          await handle.write(Buffer.concat(pending, pendingBytes));
        }
      } finally {
        await handle.close();
      }
      if (keep) {
        manifests.set(path, Buffer.concat(kept));
      }
      staged.push({ path, stagedPath, sha256: hash.digest('hex'), size });
      if (limits.nestedArchives === 'store' && /\.(zip|jar)$/i.test(path)) {
        await checkNestedZip(stagedPath, entry.fileName, limits);
      }
    }
    return { files: staged, manifests };
  } finally {
    zip.close();
  }
}
