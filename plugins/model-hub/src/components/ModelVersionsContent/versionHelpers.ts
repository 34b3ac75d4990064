import {
  EDITABLE_VERSION_STATES,
  WAIVABLE_VERSION_STATES,
} from '@model-hub/backstage-plugin-model-hub-common';
import type { HubActiveVersionState, HubVersion } from '../../api';

/** The states in which a version's files may change (shared with the backend). */
export const MUTABLE: readonly string[] = EDITABLE_VERSION_STATES;
/** States in which failed checks may still be waived (shared with the backend). */
export const WAIVABLE: readonly string[] = WAIVABLE_VERSION_STATES;

/** The earlier approved active version a rollback goes back to. */
export function rollbackTargetOf(
  active: HubActiveVersionState | undefined,
  versions: HubVersion[],
): string | undefined {
  const current = active?.active?.label;
  if (!current) {
    return undefined;
  }
  const approved = new Set(
    versions.filter(v => v.state === 'approved').map(v => v.label),
  );
  return active?.history.find(
    c => c.label && c.label !== current && approved.has(c.label),
  )?.label;
}

/** The Hugging Face repository of a model source, if it has one. */
export function huggingFaceRepoOf(source: unknown): string | undefined {
  if (
    typeof source === 'object' &&
    source !== null &&
    'huggingface' in source
  ) {
    const repo = (source as { huggingface?: { repo?: unknown } }).huggingface
      ?.repo;
    return typeof repo === 'string' ? repo : undefined;
  }
  return undefined;
}

/** Folder paths → the paths of the files under them. */
export function expandFolders(
  files: Array<{ path: string; location?: string }>,
  paths: string[],
): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const matching = files.filter(
      f =>
        (f.path === p || f.path.startsWith(`${p}/`)) && f.location === 'remote',
    );
    if (matching.length === 0) {
      out.add(p);
    }
    matching.forEach(f => out.add(f.path));
  }
  return [...out];
}

/** The version shown first: the newest approved one, else the newest. */
export function defaultVersion(versions: HubVersion[]) {
  return versions.find(v => v.state === 'approved') ?? versions[0];
}

/** Saves a downloaded file through a temporary link. */
export function downloadBlob(blob: Blob, path: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = path.split('/').pop() ?? 'download';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
