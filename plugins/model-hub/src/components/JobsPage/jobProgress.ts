import { HubJob } from '../../api';
import { formatBytes, formatDuration } from '../../lib/format';

const num = (v: unknown) =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/**
 * The progress of a job as a fraction (0 to 1, undefined when unknown) and
 * a line of text, from the fields the job executors report (`bytes`,
 * `totalBytes`, `filesDone`, `filesTotal`, `rate`, `etaSeconds`, `file`,
 * `fraction`, `message`).
 */
export function jobProgress(job: Pick<HubJob, 'state' | 'progress'>): {
  fraction?: number;
  text: string;
} {
  const p = (job.progress ?? {}) as Record<string, unknown>;
  if (job.state === 'succeeded') {
    return { fraction: 1, text: describe(p) || 'Done' };
  }
  const bytes = num(p.bytes) ?? num(p.bytesDone);
  const total = num(p.totalBytes) ?? num(p.bytesTotal);
  const filesDone = num(p.filesDone);
  const filesTotal = num(p.filesTotal);
  let fraction = num(p.fraction);
  if (fraction === undefined && bytes !== undefined && total) {
    fraction = bytes / total;
  }
  if (fraction === undefined && filesDone !== undefined && filesTotal) {
    fraction = filesDone / filesTotal;
  }
  return {
    fraction:
      fraction === undefined ? undefined : Math.max(0, Math.min(1, fraction)),
    text: describe(p),
  };
}

function describe(p: Record<string, unknown>): string {
  const parts: string[] = [];
  const bytes = num(p.bytes) ?? num(p.bytesDone);
  const total = num(p.totalBytes) ?? num(p.bytesTotal);
  if (bytes !== undefined && total !== undefined) {
    parts.push(`${formatBytes(bytes)} of ${formatBytes(total)}`);
  }
  if (num(p.filesTotal) !== undefined) {
    parts.push(`${num(p.filesDone) ?? 0}/${num(p.filesTotal)} files`);
  }
  const rate = num(p.rate);
  if (rate) {
    parts.push(`${formatBytes(rate)}/s`);
  }
  const eta = num(p.etaSeconds);
  if (eta !== undefined) {
    parts.push(`ETA ${formatDuration(eta)}`);
  }
  if (typeof p.file === 'string' && p.file) {
    parts.push(p.file);
  }
  if (typeof p.message === 'string' && p.message) {
    parts.push(p.message);
  }
  return parts.join(', ');
}
