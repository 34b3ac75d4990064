import { createHash } from 'node:crypto';

/**
 * Git object ids of the files of a mirrored version, as the Hugging Face Hub
 * reports them: regular files are git blobs (`oid` = git blob SHA-1), large
 * files are stored in Git LFS (`oid` = SHA-1 of the pointer file, `lfs.oid` =
 * SHA-256 of the content).
 */

/** Extensions that the default `.gitattributes` of a Hub repo puts in LFS. */
const LFS_PATTERNS: RegExp[] = [
  /\.(7z|arrow|bin|bz2|ckpt|ftz|gz|h5|joblib|mlmodel|model|msgpack|npy|npz|onnx|ot|parquet|pb|pickle|pkl|pt|pth|rar|safetensors|tar|tflite|tgz|wasm|xz|zip|zst)$/i,
  /\.lfs\./i,
  /\.tar\./i,
  /tfevents/i,
  /(^|\/)saved_model\//,
];

/** Files from this size on are LFS whatever their name (the Hub's 10 MB). */
export const LFS_SIZE_THRESHOLD = 10 * 1000 * 1000;

/** Whether the Hub would store a file in Git LFS. @internal */
export function isLfsPath(path: string, size: number): boolean {
  return size >= LFS_SIZE_THRESHOLD || LFS_PATTERNS.some(p => p.test(path));
}

/** The git blob SHA-1 of some content: `sha1("blob <len>\0" + bytes)`. */
export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1')
    .update(`blob ${content.length}\0`)
    .update(content)
    .digest('hex');
}

/** The Git LFS pointer file of a content, byte for byte as git-lfs writes it. */
export function lfsPointer(sha256: string, size: number): Buffer {
  return Buffer.from(
    `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`,
  );
}

/** A streaming git blob SHA-1, for content read in chunks. */
export function gitBlobHasher(size: number) {
  const hash = createHash('sha1').update(`blob ${size}\0`);
  return {
    update(chunk: Buffer) {
      hash.update(chunk);
    },
    digest: () => hash.digest('hex'),
  };
}

/** An entry of a git tree object. */
export type GitTreeEntry = {
  name: string;
  type: 'file' | 'directory';
  /** 40-hex object id. */
  oid: string;
};

/**
 * The SHA-1 of a git tree object: entries `<mode> <name>\0<20-byte id>`,
 * sorted as git sorts them (directories compare as if their name ended in
 * `/`).
 */
export function gitTreeSha1(entries: GitTreeEntry[]): string {
  const sortKey = (e: GitTreeEntry) =>
    e.type === 'directory' ? `${e.name}/` : e.name;
  const sorted = [...entries].sort((a, b) =>
    Buffer.compare(Buffer.from(sortKey(a)), Buffer.from(sortKey(b))),
  );
  const body = Buffer.concat(
    sorted.map(e =>
      Buffer.concat([
        Buffer.from(
          `${e.type === 'directory' ? '40000' : '100644'} ${e.name}\0`,
        ),
        Buffer.from(e.oid, 'hex'),
      ]),
    ),
  );
  return createHash('sha1')
    .update(`tree ${body.length}\0`)
    .update(body)
    .digest('hex');
}

/** A 40-hex id: a git commit id, as every Hub client expects. */
export const COMMIT_PATTERN = /^[0-9a-f]{40}$/;

/**
 * The synthetic, stable commit id of a version that did not come from the
 * Hub: the SHA-1 of the model ref and the version's manifest digest (or, when
 * the version has none, of its sorted file list).
 */
export function syntheticCommitId(modelRef: string, manifest: string): string {
  return createHash('sha1')
    .update(`model-hub-commit\0${modelRef}\0${manifest}`)
    .digest('hex');
}
