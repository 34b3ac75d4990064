import { formatBytes, formatDuration, formatTime, humanize } from './format';

describe('format', () => {
  it('formats sizes, durations, times and names', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatBytes(undefined)).toBe('–');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m 5s');
    expect(formatDuration(7260)).toBe('2h 1m');
    expect(formatDuration(Infinity)).toBe('–');
    expect(formatTime('2026-01-02T13:04:05.000Z')).toBe('2026-01-02 13:04');
    expect(humanize('in_review')).toBe('In review');
    expect(humanize('huggingface-sync')).toBe('Huggingface sync');
  });
});
