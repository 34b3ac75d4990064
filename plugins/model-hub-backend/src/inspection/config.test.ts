import { ConfigReader } from '@backstage/config';
import { readInspectionLimits } from './config';
import { DEFAULT_INSPECTION_LIMITS } from './types';

const read = (inspection?: object) =>
  readInspectionLimits(
    new ConfigReader(inspection ? { modelHub: { inspection } } : {}),
  );

describe('readInspectionLimits', () => {
  it('applies the defaults', () => {
    expect(read()).toEqual(DEFAULT_INSPECTION_LIMITS);
    expect(read({})).toEqual(DEFAULT_INSPECTION_LIMITS);
    expect(DEFAULT_INSPECTION_LIMITS).toMatchObject({
      workers: 2,
      cpuTimeLimitMs: 20_000,
      wallTimeLimitMs: 120_000,
      workerMemoryMiB: 512,
      maxDimensions: 64,
    });
  });

  it('reads workers, time limits and the worker heap', () => {
    expect(
      read({
        workers: 1,
        cpuTimeLimit: { seconds: 5 },
        timeLimit: { minutes: 1, seconds: 30 },
        workerMemoryMiB: 256,
      }),
    ).toEqual({
      ...DEFAULT_INSPECTION_LIMITS,
      workers: 1,
      cpuTimeLimitMs: 5000,
      wallTimeLimitMs: 90_000,
      workerMemoryMiB: 256,
    });
  });

  it.each([
    [{ workers: 0 }, /workers must be an integer from 1 to 64/],
    [{ workers: 1.5 }, /workers must be an integer/],
    [{ cpuTimeLimit: { seconds: 0 } }, /cpuTimeLimit must be positive/],
    [
      { workerMemoryMiB: 16 },
      /workerMemoryMiB must be an integer of at least 64/,
    ],
  ])('rejects %j', (inspection, message) => {
    expect(() => read(inspection)).toThrow(message);
  });
});
