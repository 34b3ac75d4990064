import { ConfigReader } from '@backstage/config';
import { readModelHubConfig } from './config';

describe('readModelHubConfig', () => {
  it('defaults to the local store under the working directory', () => {
    expect(
      readModelHubConfig(new ConfigReader({}), { cwd: '/srv/backend' }),
    ).toEqual({
      storage: { type: 'local', path: '/srv/backend/data/model-hub/store' },
      upload: { maxFileSizeBytes: 100 * 1024 * 1024 * 1024 },
      gc: {
        gracePeriodMs: 3_600_000,
        schedule: {
          frequency: { hours: 6 },
          timeout: { hours: 1 },
          initialDelay: { minutes: 10 },
        },
      },
    });
  });

  it('reads the local and s3 forms', () => {
    expect(
      readModelHubConfig(
        new ConfigReader({
          modelHub: {
            storage: { type: 'local', local: { path: '../../data/store' } },
            upload: { maxFileSizeMiB: 2 },
            gc: {
              gracePeriod: { minutes: 5 },
              schedule: { frequency: { hours: 1 }, timeout: { minutes: 10 } },
            },
          },
        }),
        { cwd: '/repo/packages/backend' },
      ),
    ).toEqual({
      storage: { type: 'local', path: '/repo/data/store' },
      upload: { maxFileSizeBytes: 2 * 1024 * 1024 },
      gc: {
        gracePeriodMs: 300_000,
        schedule: { frequency: { hours: 1 }, timeout: { minutes: 10 } },
      },
    });
    const s3 = readModelHubConfig(
      new ConfigReader({
        modelHub: {
          storage: {
            type: 's3',
            s3: {
              bucket: 'models',
              endpoint: 'http://minio:9000',
              forcePathStyle: true,
              prefix: 'hub/',
              spoolDir: '/tmp/spool',
              checksums: 'when_required',
              credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
            },
          },
        },
      }),
    );
    expect(s3.storage).toEqual({
      type: 's3',
      bucket: 'models',
      prefix: 'hub/',
      spoolDir: '/tmp/spool',
      partSize: 8 * 1024 * 1024,
      client: {
        region: 'us-east-1',
        endpoint: 'http://minio:9000',
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        credentials: {
          accessKeyId: 'a',
          secretAccessKey: 'b',
          sessionToken: undefined,
        },
      },
    });
  });

  it('reads durations in every form of Backstage (HumanDuration, ISO, ms string)', () => {
    const grace = (gracePeriod: unknown) =>
      readModelHubConfig(
        new ConfigReader({ modelHub: { gc: { gracePeriod } } } as any),
      ).gc.gracePeriodMs;
    expect(grace({ weeks: 1, hours: 2 })).toBe((7 * 24 + 2) * 3_600_000);
    expect(grace('PT90M')).toBe(90 * 60_000);
    expect(grace('2 days')).toBe(2 * 86_400_000);
  });

  it('throws on impossible settings', () => {
    expect(() =>
      readModelHubConfig(
        new ConfigReader({ modelHub: { storage: { type: 'ftp' } } }),
      ),
    ).toThrow("modelHub.storage.type must be local or s3, got 'ftp'");
    expect(() =>
      readModelHubConfig(
        new ConfigReader({ modelHub: { storage: { type: 's3' } } }),
      ),
    ).toThrow(/modelHub.storage.s3 is missing/);
    expect(() =>
      readModelHubConfig(
        new ConfigReader({
          modelHub: {
            storage: { type: 's3', s3: { bucket: 'b', partSizeMiB: 1 } },
          },
        }),
      ),
    ).toThrow(/partSizeMiB/);
    expect(() =>
      readModelHubConfig(
        new ConfigReader({ modelHub: { upload: { maxFileSizeMiB: 0 } } }),
      ),
    ).toThrow(/maxFileSizeMiB must be positive/);
  });
});
