import { InputError, serializeError } from '@backstage/errors';
import { z } from 'zod';
import { describeIssues, parseInput } from './validation';

const body = z.strictObject({
  versions: z.array(z.strictObject({ model: z.string().max(255) })).max(100),
});

function refusal(value: unknown): InputError {
  try {
    parseInput(body, value, 'export request');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('not refused');
}

describe('parseInput', () => {
  it('names the failing fields', () => {
    expect(refusal({ versions: [{ model: 1 }] }).message).toBe(
      'Invalid export request: versions.0.model: Invalid input: expected string, received number',
    );
  });

  it('answers a bounded message for a body of 20,000 unknown keys', () => {
    const hostile = Object.fromEntries(
      Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]),
    );
    const error = refusal(hostile);
    expect(error.message).toMatch(
      /^Invalid export request: versions: .*; \(root\): Unrecognized keys: "k0", "k1", .*… \(188915 characters\)$/,
    );
    expect(error.message.length).toBeLessThan(1_000);
    // what the error handler answers and logs
    expect(JSON.stringify(serializeError(error)).length).toBeLessThan(2_000);
  });

  it('names the first 10 issues and counts the rest', () => {
    const many = z.array(z.string());
    const result = many.safeParse(Array.from({ length: 25 }, (_, i) => i));
    expect(result.success).toBe(false);
    const text = describeIssues(result.error!);
    expect(text.split('; ')).toHaveLength(11);
    expect(text).toMatch(
      /^0: Invalid input: expected string, received number; 1: /,
    );
    expect(text).toMatch(/; and 15 more issues$/);
  });
});
