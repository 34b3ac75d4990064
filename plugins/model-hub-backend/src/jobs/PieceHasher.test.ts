import { createHash, randomBytes } from 'node:crypto';
import { AlignedBufferPool } from '../store/PositionalFileWriter';
import { createPieceHasher } from './PieceHasher';

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  parts.forEach(p => h.update(p));
  return h.digest('hex');
};

describe('createPieceHasher', () => {
  it('hashes views of shared memory in a worker thread, in order', async () => {
    const pool = new AlignedBufferPool(3, 64 * 1024);
    expect(pool.aligned).toBe(true);
    const a = pool.tryTake()!;
    const b = pool.tryTake()!;
    randomBytes(a.length).copy(a);
    randomBytes(b.length).copy(b);
    const hasher = createPieceHasher(pool.memory);
    try {
      // both posted before the first is done: the order is kept
      const updates = [
        hasher.update(a.subarray(0, 1000)),
        hasher.update(b),
        hasher.update(a.subarray(1000)),
      ];
      await Promise.all(updates);
      expect(await hasher.digest()).toBe(
        sha256(a.subarray(0, 1000), b, a.subarray(1000)),
      );
      // a buffer that is not a view of the memory is refused
      await expect(hasher.update(Buffer.alloc(10))).rejects.toThrow(
        'not of the shared memory',
      );
    } finally {
      await hasher.close();
    }
    await expect(hasher.update(a)).rejects.toThrow('closed');
  });

  it('hashes on this thread without shared memory', async () => {
    const data = randomBytes(100_000);
    const hasher = createPieceHasher(undefined);
    await hasher.update(data.subarray(0, 10));
    await hasher.update(data.subarray(10));
    expect(await hasher.digest()).toBe(sha256(data));
    await hasher.close();
  });
});
