import { EDITABLE_VERSION_STATES } from '@model-hub/backstage-plugin-model-hub-common';

/** The states in which a version's files may change (shared with the backend). */
export const MUTABLE: readonly string[] = EDITABLE_VERSION_STATES;

/** The status of an upload. */
type Status = 'starting' | 'uploading' | 'paused' | 'done' | 'failed';

/** An upload in the page's list. */
export type Entry = {
  id: string;
  file: File;
  /** A ZIP package imported as a new version (not resumable). */
  isPackage?: boolean;
  path: string;
  status: Status;
  sent: number;
  total: number;
  /** Bytes per second, smoothed. */
  speed?: number;
  resumedAt?: number;
  error?: string;
};

/** The path of a dropped or chosen file in the version. */
export function filePath(file: File, folder: string) {
  const relative =
    (file as File & { webkitRelativePath?: string }).webkitRelativePath ||
    file.name;
  const prefix = folder.trim().replace(/^\/+|\/+$/g, '');
  return prefix ? `${prefix}/${relative}` : relative;
}

let nextId = 0;

/** A new id for an upload of the list. */
export function newEntryId(): string {
  return `upload-${++nextId}`;
}

/** An exponential moving average of the upload speed. */
export function smooth(previous: number | undefined, rate: number | undefined) {
  if (rate === undefined) {
    return previous;
  }
  return previous === undefined ? rate : 0.7 * previous + 0.3 * rate;
}

/** The hint in the drop zone. */
export function dropHint(ready: boolean, packagesAllowed: boolean) {
  if (ready) {
    return 'Drop files or a ZIP package here, or click to choose';
  }
  if (packagesAllowed) {
    return 'Drop a ZIP package here, or choose a draft version for files';
  }
  return 'Choose a model and a draft version first';
}
