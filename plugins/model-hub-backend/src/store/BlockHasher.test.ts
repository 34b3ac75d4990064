import { createHash, randomBytes } from 'node:crypto';
import {
  BackgroundHasher,
  BACKGROUND_HASH_MIN_BYTES,
  createBlockHasher,
  InlineHasher,
} from './BlockHasher';

const sha = (algorithm: string, ...parts: Uint8Array[]) => {
  const h = createHash(algorithm);
  parts.forEach(p => h.update(p));
  return h.digest('hex');
};

describe('BlockHasher', () => {
  it.each([
    ['in a worker thread', (s: any) => new BackgroundHasher(s)],
    ['on the calling thread', (s: any) => new InlineHasher(s)],
  ])(
    'hashes shared and ordinary bytes in order, %s, with a prefix for the git blob SHA-1',
    async (_name, make) => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const hasher = make([
        { algorithm: 'sha256' },
        { algorithm: 'sha1', prefix: `blob ${data.length}\0` },
      ]);
      // a shared block, reused once its hash is done (as the writer does)
      const shared = Buffer.from(new SharedArrayBuffer(1 << 20) as ArrayBuffer);
      let offset = 0;
      let i = 0;
      while (offset < data.length) {
        const n = Math.min(data.length - offset, 1000 + ((i * 7919) % 900_000));
        const part = data.subarray(offset, offset + n);
        if (i % 2 === 0) {
          part.copy(shared);
          await hasher.update(shared.subarray(0, n));
          shared.fill(0xee); // reused: must not change what was hashed
        } else {
          // ordinary memory is copied: the caller may change it at once
          const own = Buffer.from(part);
          const done = hasher.update(own);
          own.fill(0xaa);
          await done;
        }
        offset += n;
        i++;
      }
      const [s256, s1] = await hasher.digest();
      expect(s256).toBe(sha('sha256', data));
      expect(s1).toBe(sha('sha1', Buffer.from(`blob ${data.length}\0`), data));
      await hasher.close();
    },
  );

  it('refuses bytes after its digest or once closed, and rejects what was pending at close', async () => {
    const hasher = new BackgroundHasher([{ algorithm: 'sha256' }]);
    expect(await hasher.digest()).toEqual([sha('sha256')]);
    await expect(hasher.update(Buffer.from('x'))).rejects.toThrow(
      'The hasher has ended',
    );
    const other = new BackgroundHasher([{ algorithm: 'sha256' }]);
    const big = Buffer.alloc(64 * 1024 * 1024, 1);
    const pending = other.update(big).then(
      () => 'hashed',
      (error: Error) => error.message,
    );
    await other.close();
    expect(await pending).toBe('The hasher was closed');
    await expect(other.digest()).rejects.toThrow('The hasher was closed');
  });

  it('hashes large files in a worker thread and small ones inline', async () => {
    expect(
      createBlockHasher([{ algorithm: 'sha256' }], BACKGROUND_HASH_MIN_BYTES),
    ).toBeInstanceOf(BackgroundHasher);
    const small = createBlockHasher([{ algorithm: 'sha256' }], 1000);
    expect(small).toBeInstanceOf(InlineHasher);
    expect(small.update(Buffer.from('abc'))).toBeUndefined();
    expect(await small.digest()).toEqual([sha('sha256', Buffer.from('abc'))]);
    const forced = createBlockHasher([{ algorithm: 'sha256' }], 1000, 0);
    expect(forced).toBeInstanceOf(BackgroundHasher);
    await forced.close();
    await createBlockHasher(
      [{ algorithm: 'sha256' }],
      BACKGROUND_HASH_MIN_BYTES,
    ).close();
  });
});
