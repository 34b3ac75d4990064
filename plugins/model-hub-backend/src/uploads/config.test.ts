import { ConfigReader } from '@backstage/config';
import { readUploadsConfig } from './config';

describe('readUploadsConfig', () => {
  it('applies defaults', () => {
    const c = readUploadsConfig(new ConfigReader({}), {
      cwd: '/srv',
      maxFileBytes: 1000,
      defaultDirectory: '/data/uploads',
    });
    expect(c).toMatchObject({
      directory: '/data/uploads',
      maxFileBytes: 1000,
      expirationMs: 86_400_000,
      archive: {
        maxArchiveBytes: 1000,
        maxEntries: 10_000,
        nestedArchives: 'reject',
      },
    });
  });

  it('reads every key', () => {
    const c = readUploadsConfig(
      new ConfigReader({
        modelHub: {
          uploads: {
            directory: 'up',
            expiration: { hours: 2 },
            maxActiveUploadsPerUser: 3,
            archive: {
              maxArchiveSizeMiB: 2,
              maxTotalSizeMiB: 4,
              maxEntries: 5,
              maxCompressionRatio: 20,
              nestedArchives: 'store',
              requiredFiles: { llm: ['config.json'] },
            },
          },
        },
      }),
      { cwd: '/srv', maxFileBytes: 1000 },
    );
    expect(c).toMatchObject({
      directory: '/srv/up',
      expirationMs: 7_200_000,
      maxActiveUploadsPerUser: 3,
      archive: {
        maxArchiveBytes: 2 * 1024 * 1024,
        maxTotalBytes: 4 * 1024 * 1024,
        maxEntries: 5,
        maxCompressionRatio: 20,
        nestedArchives: 'store',
        requiredFiles: { llm: ['config.json'] },
      },
    });
  });

  it('rejects impossible settings', () => {
    expect(() =>
      readUploadsConfig(
        new ConfigReader({
          modelHub: { uploads: { archive: { nestedArchives: 'unpack' } } },
        }),
        { maxFileBytes: 1 },
      ),
    ).toThrow(/reject or store/);
    expect(() =>
      readUploadsConfig(
        new ConfigReader({
          modelHub: { uploads: { archive: { maxEntries: 0 } } },
        }),
        { maxFileBytes: 1 },
      ),
    ).toThrow(/must be positive/);
  });

  it('reads the lock settings shared by the instances and the tus store', () => {
    const defaults = readUploadsConfig(new ConfigReader({}), {
      maxFileBytes: 1,
    });
    expect(defaults.locks).toEqual({
      leaseMs: 15_000,
      heartbeatMs: 1_000,
      acquireTimeoutMs: 30_000,
    });
    const c = readUploadsConfig(
      new ConfigReader({
        modelHub: {
          uploads: {
            lock: {
              lease: { seconds: 10 },
              heartbeat: { milliseconds: 500 },
              acquireTimeout: { seconds: 20 },
            },
          },
        },
      }),
      { maxFileBytes: 1 },
    );
    expect(c.locks).toEqual({
      leaseMs: 10_000,
      heartbeatMs: 500,
      acquireTimeoutMs: 20_000,
    });
    expect(() =>
      readUploadsConfig(
        new ConfigReader({
          modelHub: {
            uploads: {
              lock: { lease: { seconds: 2 }, heartbeat: { seconds: 2 } },
            },
          },
        }),
        { maxFileBytes: 1 },
      ),
    ).toThrow(/at most half of lock.lease/);
    expect(defaults.tusStore).toBe('file');
    expect(
      readUploadsConfig(
        new ConfigReader({ modelHub: { uploads: { tusStore: 's3' } } }),
        { maxFileBytes: 1 },
      ).tusStore,
    ).toBe('s3');
    expect(() =>
      readUploadsConfig(
        new ConfigReader({ modelHub: { uploads: { tusStore: 'nfs' } } }),
        { maxFileBytes: 1 },
      ),
    ).toThrow(/must be file or s3/);
  });
});
