// A shared suite that each store's test file runs; it exports on purpose.
/* eslint-disable jest/no-export */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArtifactStore } from '../ArtifactStore';

/** Deterministic pseudo-random content. */
export function makeContent(size: number, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

export const sha256Of = (buf: Buffer) =>
  createHash('sha256').update(buf).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

async function listAll(store: ArtifactStore) {
  const out = [];
  for await (const b of store.list()) {
    out.push(b);
  }
  return out;
}

/**
 * The behaviour every {@link ArtifactStore} must have; run against the local
 * store and the S3 store alike.
 */
export function artifactStoreSuite(
  create: () => Promise<ArtifactStore>,
  options: { largeSize: number },
) {
  it('puts, stats, reads and deletes a blob by its sha256', async () => {
    const store = await create();
    const content = makeContent(100_000, 7);
    const digest = sha256Of(content);

    const put = await store.put(Readable.from([content]));
    expect(put).toMatchObject({ sha256: digest, size: 100_000, created: true });
    expect(put.location).toContain(digest);

    await expect(store.stat(digest)).resolves.toMatchObject({
      sha256: digest,
      size: 100_000,
    });
    expect((await readAll(await store.get(digest))).equals(content)).toBe(true);
    const part = await readAll(await store.get(digest, { start: 10, end: 19 }));
    expect(part.equals(content.subarray(10, 20))).toBe(true);

    await store.delete(digest);
    await expect(store.stat(digest)).resolves.toBeUndefined();
    await expect(store.get(digest)).rejects.toMatchObject({
      name: 'NotFoundError',
    });
    await expect(store.delete(digest)).resolves.toBeUndefined();
  });

  it('deduplicates identical content', async () => {
    const store = await create();
    const content = makeContent(4096, 3);
    const first = await store.put(Readable.from([content]));
    const second = await store.put(
      Readable.from([content.subarray(0, 100), content.subarray(100)]),
    );
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ sha256: first.sha256, created: false });
    const all = await listAll(store);
    expect(all.map(b => b.sha256)).toEqual([first.sha256]);
  });

  it('stores empty content', async () => {
    const store = await create();
    const put = await store.put(Readable.from([]));
    expect(put).toMatchObject({ sha256: sha256Of(Buffer.alloc(0)), size: 0 });
    expect((await readAll(await store.get(put.sha256))).length).toBe(0);
  });

  it('verifies the expected sha256 and size and stores nothing on mismatch', async () => {
    const store = await create();
    const content = makeContent(2048, 9);
    await expect(
      store.put(Readable.from([content]), { expectedSha256: 'a'.repeat(64) }),
    ).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringContaining('Checksum mismatch'),
    });
    await expect(
      store.put(Readable.from([content]), { expectedSize: 10 }),
    ).rejects.toMatchObject({ name: 'InputError' });
    await expect(
      store.put(Readable.from([content]), { expectedSize: 4096 }),
    ).rejects.toMatchObject({ name: 'InputError' });
    await expect(
      store.put(Readable.from([content]), { maxSize: 2047 }),
    ).rejects.toMatchObject({
      name: 'InputError',
      message: 'Content is larger than the limit of 2047 bytes',
    });
    expect(await listAll(store)).toEqual([]);
    await expect(store.stat(sha256Of(content))).resolves.toBeUndefined();
    const ok = await store.put(Readable.from([content]), {
      expectedSha256: sha256Of(content),
      expectedSize: 2048,
    });
    expect(ok.sha256).toBe(sha256Of(content));
  });

  it('stores nothing when the source stream fails', async () => {
    const store = await create();
    async function* failing() {
      yield makeContent(1000, 1);
      throw new Error('connection reset');
    }
    await expect(store.put(Readable.from(failing()))).rejects.toThrow(
      'connection reset',
    );
    expect(await listAll(store)).toEqual([]);
  });

  it('rejects malformed digests', async () => {
    const store = await create();
    await expect(store.stat('../../etc/passwd')).rejects.toMatchObject({
      name: 'InputError',
    });
    await expect(store.get('ABC')).rejects.toMatchObject({
      name: 'InputError',
    });
  });

  it('stores large content', async () => {
    const store = await create();
    const content = makeContent(options.largeSize, 11);
    const chunks: Buffer[] = [];
    for (let i = 0; i < content.length; i += 65536) {
      chunks.push(content.subarray(i, i + 65536));
    }
    const put = await store.put(Readable.from(chunks));
    expect(put).toMatchObject({
      sha256: sha256Of(content),
      size: options.largeSize,
    });
    const back = await readAll(await store.get(put.sha256));
    expect(sha256Of(back)).toBe(put.sha256);
    const tail = await readAll(
      await store.get(put.sha256, {
        start: options.largeSize - 5,
        end: options.largeSize - 1,
      }),
    );
    expect(tail.equals(content.subarray(options.largeSize - 5))).toBe(true);
  });

  it('lists blobs and cleans up nothing when there are no leftovers', async () => {
    const store = await create();
    const a = await store.put(Readable.from([Buffer.from('a')]));
    const b = await store.put(Readable.from([Buffer.from('b')]));
    const listed = (await listAll(store)).map(x => x.sha256).sort();
    expect(listed).toEqual([a.sha256, b.sha256].sort());
    await expect(
      store.cleanup({ olderThan: new Date(Date.now() + 60_000) }),
    ).resolves.toEqual({ removed: 0 });
    expect(await listAll(store)).toHaveLength(2);
  });

  it('moves a verified local file in with putFile, dedups and checks its size', async () => {
    const store = await create();
    const dir = mkdtempSync(join(tmpdir(), 'artifact-putfile-'));
    try {
      const content = makeContent(300_000, 11);
      const digest = sha256Of(content);
      const file = join(dir, 'a.partial');
      writeFileSync(file, content);

      const put = await store.putFile({
        path: file,
        sha256: digest,
        size: 300_000,
      });
      expect(put).toMatchObject({
        sha256: digest,
        size: 300_000,
        created: true,
      });
      expect(put.location).toContain(digest);
      expect(existsSync(file)).toBe(false);
      expect((await readAll(await store.get(digest))).equals(content)).toBe(
        true,
      );

      // the same content again: kept once, the file removed
      writeFileSync(file, content);
      await expect(
        store.putFile({ path: file, sha256: digest, size: 300_000 }),
      ).resolves.toMatchObject({ sha256: digest, created: false });
      expect(existsSync(file)).toBe(false);

      // a wrong size or a malformed digest stores nothing and keeps the file
      const other = makeContent(1000, 12);
      writeFileSync(file, other);
      await expect(
        store.putFile({ path: file, sha256: sha256Of(other), size: 999 }),
      ).rejects.toThrow(/Size mismatch: expected 999 bytes, got 1000/);
      await expect(
        store.putFile({ path: file, sha256: 'nope', size: 1000 }),
      ).rejects.toThrow(/Invalid sha256 digest/);
      expect(existsSync(file)).toBe(true);
      await expect(store.stat(sha256Of(other))).resolves.toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
