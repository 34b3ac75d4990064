import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '@backstage/errors';
import { TransferConfig } from './config';
import { ANNOTATION_MODEL, ANNOTATION_VERSION } from './oci';
import { readTar } from './tar';

/** A blob spooled to the staging folder and verified against its name. @internal */
export type StagedBlob = { path: string; size: number };

/**
 * The largest `index.json` or `oci-layout` an import reads (2 MiB, or
 * `maxJsonSizeMiB` when smaller): they are parsed before the signature is
 * checked, and an index lists at most 1,000 manifests (about 0.5 MiB).
 *
 * @internal
 */
export const MAX_UNSIGNED_JSON_BYTES = 2 * 1024 * 1024;

/** Refuses a bundle. @internal */
export function reject(message: string): never {
  throw new InputError(`Rejected bundle: ${message}`);
}

/** The tar entry name of a bundle, checked. */
function entryName(raw: string, type: string, typeFlag: string): string {
  const name = raw.startsWith('./') ? raw.slice(2) : raw;
  const segments = name.split('/');
  if (
    name.startsWith('/') ||
    /^[A-Za-z]:/.test(name) ||
    name.includes('\\') ||
    segments.includes('..')
  ) {
    reject(`entry '${raw}' has a name with path traversal`);
  }
  if (type === 'directory') {
    if (
      !['', 'blobs', 'blobs/', 'blobs/sha256', 'blobs/sha256/'].includes(name)
    ) {
      reject(`unexpected directory '${raw}'`);
    }
    return name;
  }
  if (type !== 'file') {
    reject(
      `entry '${raw}' is of tar type '${typeFlag}' (a link, device or extension header); only files and directories are allowed`,
    );
  }
  if (
    name !== 'oci-layout' &&
    name !== 'index.json' &&
    !/^blobs\/sha256\/[a-f0-9]{64}$/.test(name)
  ) {
    reject(
      `unexpected entry '${raw}' (an OCI layout holds oci-layout, index.json and blobs/sha256/<hex>)`,
    );
  }
  return name;
}

/** Step 1 of an import: reads the tar, spooling and hashing every blob. @internal */
export async function stage(
  source: AsyncIterable<Buffer>,
  staging: string,
  limits: TransferConfig['limits'],
) {
  const blobs = new Map<string, StagedBlob>();
  let layout: Buffer | undefined;
  let index: Buffer | undefined;
  let entries = 0;
  let total = 0;
  for await (const entry of readTar(source)) {
    entries += 1;
    if (entries > limits.maxEntries) {
      reject(`more than ${limits.maxEntries} entries, the limit`);
    }
    const name = entryName(entry.name, entry.type, entry.typeFlag);
    total += entry.size;
    if (total > limits.maxBundleBytes) {
      reject(
        `its entries hold more than ${limits.maxBundleBytes} bytes, the limit`,
      );
    }
    if (entry.type === 'directory') {
      continue;
    }
    if (name === 'oci-layout' || name === 'index.json') {
      const max = Math.min(limits.maxJsonBytes, MAX_UNSIGNED_JSON_BYTES);
      if (entry.size > max) {
        reject(
          `${name} is ${entry.size} bytes, over the limit of ${max} bytes`,
        );
      }
      if ((name === 'index.json' ? index : layout) !== undefined) {
        reject(`${name} appears twice`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) {
        chunks.push(Buffer.from(chunk));
      }
      if (name === 'index.json') {
        index = Buffer.concat(chunks);
      } else {
        layout = Buffer.concat(chunks);
      }
      continue;
    }
    const hex = name.slice('blobs/sha256/'.length);
    if (entry.size > limits.maxBlobBytes) {
      reject(
        `blob sha256:${hex} is ${entry.size} bytes, over the limit of ${limits.maxBlobBytes} bytes`,
      );
    }
    const path = join(staging, `${entries}`);
    const hash = createHash('sha256');
    const file = await open(path, 'wx');
    try {
      for await (const chunk of entry.body) {
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    const actual = hash.digest('hex');
    const earlier = blobs.get(hex);
    if (earlier) {
      if (actual !== hex) {
        reject(
          `blob sha256:${hex} appears twice with different content (the second copy hashes to sha256:${actual})`,
        );
      }
      await rm(path);
      continue;
    }
    if (actual !== hex) {
      reject(
        `${describeBlob(
          index,
          hex,
        )} was tampered with: its content hashes to sha256:${actual}`,
      );
    }
    blobs.set(hex, { path, size: entry.size });
  }
  if (!layout) {
    reject('oci-layout is missing (not an OCI image layout)');
  }
  if (!index) {
    reject('index.json is missing (not an OCI image layout)');
  }
  return { blobs, layout, index };
}

/**
 * What a blob is, for messages: a manifest when the index (written first
 * by exports) lists it, otherwise a blob.
 */
function describeBlob(index: Buffer | undefined, hex: string): string {
  const digest = `sha256:${hex}`;
  try {
    const parsed = index && JSON.parse(index.toString('utf8'));
    const entry = (parsed?.manifests ?? []).find(
      (m: { digest?: string }) => m?.digest === digest,
    );
    if (entry) {
      return `the manifest ${digest} of ${entry.annotations?.[ANNOTATION_MODEL]}@${entry.annotations?.[ANNOTATION_VERSION]}`;
    }
  } catch {
    // an index that is no JSON is refused later, with its own message
  }
  return `blob ${digest}`;
}
