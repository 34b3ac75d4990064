import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigReader } from '@backstage/config';
import {
  forgetWriteModeDecisions,
  readWriteMode,
  resolveWriteMode,
  SequentialFileWriter,
} from './SequentialFileWriter';
import { BackgroundHasher, InlineHasher } from './BlockHasher';

/** Feeds `data` to the writer in chunks of pseudo-random sizes. */
async function feed(
  writer: SequentialFileWriter,
  data: Buffer,
  maxChunk: number,
) {
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const size = Math.min(
      data.length - offset,
      1 + ((i++ * 7919 + 13) % maxChunk),
    );
    const chunk = Buffer.from(data.subarray(offset, offset + size));
    const wait = writer.write(chunk);
    // the writer copies: scribbling on the chunk afterwards changes nothing
    chunk.fill(0xee);
    if (wait) {
      await wait;
    }
    offset += size;
  }
}

describe('SequentialFileWriter', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'model-hub-writer-'));
    forgetWriteModeDecisions();
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe.each([
    ['direct I/O where the filesystem allows', true],
    ['the page cache', false],
  ])('through %s', (_name, direct) => {
    it('writes every byte of a stream of odd-sized chunks, in order', async () => {
      const path = join(dir, 'file');
      await fs.writeFile(path, '');
      const data = randomBytes(3 * 65536 + 12345);
      const writer = await SequentialFileWriter.open(path, 0, {
        direct,
        blockSize: 16384,
        maxInflight: 2,
      });
      expect(writer.usesDirectIo && !direct).toBe(false);
      await feed(writer, data, 40000);
      expect(writer.position).toBe(data.length);
      expect(writer.written).toBeLessThanOrEqual(writer.position);
      await writer.sync();
      expect(writer.written).toBe(data.length);
      await writer.close();
      expect((await fs.readFile(path)).equals(data)).toBe(true);
      // no probe file is left next to the data
      expect(readdirSync(dir)).toEqual(['file']);
    });

    it('continues a file from an unaligned offset and after a flush', async () => {
      const path = join(dir, 'file');
      const head = randomBytes(5000); // a resumed download's kept bytes
      await fs.writeFile(path, head);
      const rest = randomBytes(100_000);
      const writer = await SequentialFileWriter.open(path, head.length, {
        direct,
        blockSize: 8192,
        maxInflight: 1,
      });
      await feed(writer, rest.subarray(0, 30_001), 9000);
      // a checkpoint in the middle: everything accepted is on disk
      expect(await writer.flush()).toBe(head.length + 30_001);
      expect((await fs.stat(path)).size).toBe(head.length + 30_001);
      await feed(writer, rest.subarray(30_001), 20000);
      await writer.sync();
      await writer.close();
      expect(
        (await fs.readFile(path)).equals(Buffer.concat([head, rest])),
      ).toBe(true);
    });

    it('overwrites what lies beyond the start offset', async () => {
      const path = join(dir, 'file');
      await fs.writeFile(path, Buffer.alloc(20000, 0x61));
      const writer = await SequentialFileWriter.open(path, 4096, {
        direct,
        blockSize: 4096,
      });
      await feed(writer, Buffer.alloc(8192, 0x62), 3000);
      await writer.sync();
      await writer.close();
      const content = await fs.readFile(path);
      expect(content.length).toBe(20000);
      expect(content.subarray(0, 4096).every(b => b === 0x61)).toBe(true);
      expect(content.subarray(4096, 12288).every(b => b === 0x62)).toBe(true);
      expect(content.subarray(12288).every(b => b === 0x61)).toBe(true);
    });
  });

  it.each([
    ['direct', 'a worker thread'],
    ['buffered', 'a worker thread'],
    ['direct', 'the calling thread'],
  ] as const)(
    'gives every block to the hasher in file order (%s writes, hash on %s), a resumed file included',
    async (mode, where) => {
      const path = join(dir, 'file');
      const head = randomBytes(5000);
      await fs.writeFile(path, head);
      const rest = randomBytes(2 * 1024 * 1024 + 4321);
      const specs = [{ algorithm: 'sha256' as const }];
      const hasher =
        where === 'a worker thread'
          ? new BackgroundHasher(specs)
          : new InlineHasher(specs);
      // the kept bytes first, as a resumed download does
      await hasher.update(head);
      const writer = await SequentialFileWriter.open(path, head.length, {
        mode,
        blockSize: 65536,
        maxInflight: 2,
        hasher,
      });
      await feed(writer, rest, 40000);
      await writer.flush();
      const [digest] = await hasher.digest();
      await writer.sync();
      await writer.close();
      const all = Buffer.concat([head, rest]);
      expect(digest).toBe(createHash('sha256').update(all).digest('hex'));
      expect((await fs.readFile(path)).equals(all)).toBe(true);
    },
  );

  it('fails the writer when its hasher fails', async () => {
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    const hasher = new BackgroundHasher([{ algorithm: 'sha256' }]);
    await hasher.close();
    const writer = await SequentialFileWriter.open(path, 0, {
      blockSize: 4096,
      hasher,
    });
    await expect(
      (async () => {
        await feed(writer, randomBytes(100_000), 5000);
        await writer.flush();
      })(),
    ).rejects.toThrow('The hasher was closed');
    await writer.close();
  });

  it('uses direct I/O when asked on a filesystem that supports it', async () => {
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    const writer = await SequentialFileWriter.open(path, 0, {
      mode: 'direct',
      blockSize: 65536,
    });
    // tmpfs before Linux 6.6 refuses O_DIRECT; ext4 and xfs take it
    const fsType = await fs
      .readFile('/proc/mounts', 'utf8')
      .then(
        m =>
          m
            .split('\n')
            .map(l => l.split(' '))
            .filter(l => l[1] && dir.startsWith(l[1]))
            .sort((a, b) => b[1].length - a[1].length)[0]?.[2],
      )
      .catch(() => undefined);
    const takesDirect = fsType === 'ext4' || fsType === 'xfs';
    expect(writer.usesDirectIo || !takesDirect).toBe(true);
    expect(writer.mode).toBe(writer.usesDirectIo ? 'direct' : 'buffered');
    const data = randomBytes(300_000);
    await feed(writer, data, 70000);
    await writer.sync();
    await writer.close();
    expect((await fs.readFile(path)).equals(data)).toBe(true);
  });

  it('syncs in the background in buffered mode while the caller keeps writing', async () => {
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    const writer = await SequentialFileWriter.open(path, 0, {
      mode: 'buffered',
      blockSize: 16384,
      syncEveryBytes: 65536,
    });
    expect(writer.usesDirectIo).toBe(false);
    expect(writer.mode).toBe('buffered');
    const data = randomBytes(1024 * 1024 + 777);
    await feed(writer, data, 30000);
    // the unsynced bytes stay bounded: at most twice the interval plus
    // the blocks being written and filled
    expect(writer.position - writer.synced).toBeLessThanOrEqual(
      2 * 65536 + 4 * 16384,
    );
    expect(writer.synced).toBeGreaterThan(0);
    await writer.sync();
    await writer.close();
    expect((await fs.readFile(path)).equals(data)).toBe(true);
  });

  it('chooses a mode per filesystem by measuring both, once', async () => {
    const first = await resolveWriteMode(dir, 'auto', { probeBytes: 1 << 20 });
    expect(['direct', 'buffered']).toContain(first.mode);
    // tmpfs: page-cache writes, nothing measured; else both measured
    expect(
      first.basis === 'memory'
        ? first.mode === 'buffered'
        : first.basis === 'probe' && first.bufferedMBs > 0,
    ).toBe(true);
    // direct I/O is only chosen where it worked
    expect(first.mode === 'buffered' || first.directMBs > 0).toBe(true);
    // another folder of the same filesystem: the same measurement
    const other = await fs.mkdtemp(join(tmpdir(), 'model-hub-writer-'));
    try {
      expect(await resolveWriteMode(other, 'auto')).toEqual(first);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
    // no probe file is left behind
    expect(readdirSync(dir)).toEqual([]);
    // forced modes are taken as they are
    expect((await resolveWriteMode(dir, 'buffered')).mode).toBe('buffered');
    expect((await resolveWriteMode(dir, 'direct')).mode).toBe('direct');
    // a writer in auto mode uses the measured mode
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    const writer = await SequentialFileWriter.open(path, 0);
    expect(writer.mode === 'direct' || first.mode === 'buffered').toBe(true);
    const data = randomBytes(200_000);
    await feed(writer, data, 50000);
    await writer.sync();
    await writer.close();
    expect((await fs.readFile(path)).equals(data)).toBe(true);
  });

  it('takes page-cache writes on tmpfs without a probe', async () => {
    const shm = '/dev/shm';
    const onTmpfs = await fs
      .statfs(shm)
      .then(s => s.type === 0x01021994)
      .catch(() => false);
    if (!onTmpfs) {
      return; // no tmpfs here
    }
    const sub = await fs.mkdtemp(join(shm, 'model-hub-writer-'));
    try {
      expect(await resolveWriteMode(sub, 'auto')).toEqual({
        mode: 'buffered',
        directMBs: 0,
        bufferedMBs: 0,
        basis: 'memory',
      });
      expect(readdirSync(sub)).toEqual([]);
    } finally {
      await fs.rm(sub, { recursive: true, force: true });
    }
  });

  it.each(['direct', 'buffered'] as const)(
    'takes bytes read into its own memory without copying them (%s)',
    async mode => {
      const path = join(dir, 'file');
      await fs.writeFile(path, '');
      const hasher = new InlineHasher([{ algorithm: 'sha256' }]);
      // 3 blocks of 256 KiB, resumed at an unaligned offset
      const start = 5000;
      const head = randomBytes(start);
      await fs.writeFile(path, head);
      const writer = await SequentialFileWriter.open(path, start, {
        mode,
        blockSize: 256 * 1024,
        hasher,
      });
      const data = randomBytes(3 * 1024 * 1024 + 12345);
      let offset = 0;
      let inPlace = 0;
      let i = 0;
      while (offset < data.length) {
        // a "socket read": into the offered area when there is one, else
        // into a buffer of its own; sometimes with bytes queued before it
        const ahead = Math.min(
          data.length - offset,
          i % 3 === 0 ? 0 : (i * 7919) % 70000,
        );
        const area = writer.readArea(ahead);
        const reads: Buffer[] = [];
        if (ahead > 0) {
          reads.push(Buffer.from(data.subarray(offset, offset + ahead)));
        }
        const rest = Math.min(
          data.length - offset - ahead,
          1 + ((i * 104729) % 300000),
        );
        if (rest > 0) {
          const from = data.subarray(offset + ahead, offset + ahead + rest);
          if (area && area.length >= rest) {
            from.copy(area);
            reads.push(area.subarray(0, rest));
            inPlace++;
          } else {
            reads.push(Buffer.from(from));
          }
        }
        for (const chunk of reads) {
          const wait = writer.write(chunk);
          if (wait) {
            await wait;
          }
          offset += chunk.length;
        }
        i++;
      }
      await writer.sync();
      expect(writer.readArea(0)).toBeDefined();
      await writer.close();
      expect(writer.readArea(0)).toBeUndefined();
      expect(inPlace).toBeGreaterThan(5);
      const all = Buffer.concat([head, data]);
      expect((await fs.readFile(path)).equals(all)).toBe(true);
      const [digest] = await hasher.digest();
      expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
    },
  );

  it('offers no read area while a write waits for a free block', async () => {
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    // one block in flight at most: the second full block waits for it
    let release: () => void = () => {};
    const gate = new Promise<void>(resolve => {
      release = resolve;
    });
    const writer = await SequentialFileWriter.open(path, 0, {
      mode: 'buffered',
      blockSize: 128 * 1024,
      maxInflight: 1,
      hasher: {
        update: () => gate,
        digest: async () => [],
        close: async () => {},
      },
    });
    const data = randomBytes(256 * 1024 + 4096);
    expect(writer.write(data.subarray(0, 128 * 1024))).toBeUndefined();
    const wait = writer.write(data.subarray(128 * 1024, 256 * 1024));
    expect(wait).toBeDefined();
    // the block that filled is being written: its memory is not free room
    expect(writer.readArea(0)).toBeUndefined();
    expect(writer.readArea(4096)).toBeUndefined();
    release();
    await wait;
    expect(writer.readArea(0)).toBeDefined();
    await writer.write(data.subarray(256 * 1024));
    await writer.sync();
    await writer.close();
    expect((await fs.readFile(path)).equals(data)).toBe(true);
  });

  it('reads the write mode from config, the old directIo key included', () => {
    const read = (storage: object) =>
      readWriteMode(new ConfigReader({ modelHub: { storage } }));
    expect(read({})).toBe('auto');
    expect(read({ writeMode: 'buffered' })).toBe('buffered');
    expect(read({ writeMode: 'direct', directIo: false })).toBe('direct');
    expect(read({ directIo: false })).toBe('buffered');
    expect(read({ directIo: true })).toBe('direct');
    expect(() => read({ writeMode: 'fast' })).toThrow(
      "modelHub.storage.writeMode must be auto, direct or buffered, got 'fast'",
    );
  });

  it('refuses writes once closed and rejects block sizes that are not 4 KiB multiples', async () => {
    const path = join(dir, 'file');
    await fs.writeFile(path, '');
    await expect(
      SequentialFileWriter.open(path, 0, { blockSize: 1000 }),
    ).rejects.toThrow('Invalid block size 1000');
    const writer = await SequentialFileWriter.open(path, 0);
    await writer.close();
    expect(() => writer.write(Buffer.from('x'))).toThrow(
      'The file writer is closed',
    );
  });

  it('fails on a file that is gone, without leaving a probe behind', async () => {
    await expect(
      SequentialFileWriter.open(join(dir, 'missing'), 0),
    ).rejects.toThrow(/ENOENT/);
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});
