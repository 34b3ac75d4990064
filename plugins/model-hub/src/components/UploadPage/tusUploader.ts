/**
 * Resumable uploads through the tus protocol (`tus-js-client`), behind a
 * small interface so that the page can be tested without a tus server.
 */

/** Metadata the backend's tus endpoint reads. */
export type UploadMetadata = {
  /** The model's entity ref, `model:default/name`. */
  model: string;
  /** The version label. */
  version: string;
  /** The file's path in the version. */
  path: string;
  /** The file name. */
  filename: string;
  /** `zip` to unpack a ZIP package into the version. */
  archive?: string;
};

/** Callbacks of one upload. */
export type UploadCallbacks = {
  onProgress(bytesSent: number, bytesTotal: number): void;
  onSuccess(): void;
  onError(error: Error): void;
};

/** A running upload. */
export interface UploadTask {
  /** The offset the upload resumed at (0 for a new upload). */
  resumedAt: number;
  start(): void;
  pause(): Promise<void>;
  /** Stops and forgets the upload (the server discards it). */
  abort(): Promise<void>;
}

/** An upload that was interrupted (e.g. by a page reload). */
export type InterruptedUpload = {
  key: string;
  filename: string;
  path: string;
  model: string;
  version: string;
  size: number;
  creationTime: string;
};

/** Creates uploads and finds interrupted ones. */
export interface Uploader {
  create(options: {
    endpoint: string;
    file: File;
    metadata: UploadMetadata;
    getToken(): Promise<string | undefined>;
    callbacks: UploadCallbacks;
  }): Promise<UploadTask>;
  /** Posts a ZIP package in one request (not resumable). */
  createPackage(options: {
    url: string;
    file: File;
    getToken(): Promise<string | undefined>;
    callbacks: UploadCallbacks;
  }): Promise<UploadTask>;
  findInterrupted(): Promise<InterruptedUpload[]>;
  forget(key: string): Promise<void>;
}

/** The identity of a file within a target, stable across page reloads. */
export function uploadFingerprint(file: File, metadata: UploadMetadata) {
  return [
    'model-hub',
    metadata.model,
    metadata.version,
    metadata.path,
    file.size,
    file.lastModified,
  ].join('::');
}

/** How much of an interrupted upload the server has (0 when unknown). */
async function uploadOffset(
  url: string | null,
  getToken: () => Promise<string | undefined>,
): Promise<number> {
  if (!url) {
    return 0;
  }
  try {
    const token = await getToken();
    const res = await fetch(url, {
      method: 'HEAD',
      headers: {
        'Tus-Resumable': '1.0.0',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
    });
    const offset = Number(res.headers.get('Upload-Offset'));
    return res.ok && Number.isFinite(offset) ? offset : 0;
  } catch {
    return 0;
  }
}

/** 50 MiB: a reload or a network error loses at most one chunk. */
const CHUNK_SIZE = 50 * 1024 * 1024;

/** The uploader of the browser, on `tus-js-client`. */
export const tusUploader: Uploader = {
  async create({ endpoint, file, metadata, getToken, callbacks }) {
    const tus = await import('tus-js-client');
    const upload = new tus.Upload(file, {
      endpoint,
      chunkSize: CHUNK_SIZE,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata: metadata as Record<string, string>,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: async () => uploadFingerprint(file, metadata),
      async onBeforeRequest(req) {
        const token = await getToken();
        if (token) {
          req.setHeader('Authorization', `Bearer ${token}`);
        }
      },
      onProgress: callbacks.onProgress,
      onSuccess: () => callbacks.onSuccess(),
      onError: callbacks.onError,
    });
    const previous = await upload.findPreviousUploads();
    let resumedAt = 0;
    if (previous.length > 0) {
      upload.resumeFromPreviousUpload(previous[0]);
      resumedAt = await uploadOffset(previous[0].uploadUrl, getToken);
    }
    return {
      resumedAt,
      start: () => upload.start(),
      pause: () => upload.abort(false),
      abort: () => upload.abort(true),
    };
  },

  async createPackage({ url, file, getToken, callbacks }) {
    let xhr: XMLHttpRequest | undefined;
    const send = async () => {
      const token = await getToken();
      const request = new XMLHttpRequest();
      xhr = request;
      request.open('POST', url);
      request.setRequestHeader('content-type', 'application/zip');
      if (token) {
        request.setRequestHeader('authorization', `Bearer ${token}`);
      }
      request.upload.onprogress = e =>
        callbacks.onProgress(
          e.loaded,
          e.lengthComputable ? e.total : file.size,
        );
      request.onload = () => {
        if (request.status >= 200 && request.status < 300) {
          callbacks.onSuccess();
          return;
        }
        let message = `${request.status} ${request.statusText}`;
        try {
          message = JSON.parse(request.responseText).error.message ?? message;
        } catch {
          // not a Backstage error body
        }
        callbacks.onError(new Error(message));
      };
      request.onerror = () => callbacks.onError(new Error('Network error'));
      request.send(file);
    };
    return {
      resumedAt: 0,
      start: () => {
        send().catch(callbacks.onError);
      },
      // a package upload cannot resume: pausing stops it, resuming restarts it
      pause: async () => xhr?.abort(),
      abort: async () => xhr?.abort(),
    };
  },

  async findInterrupted() {
    const tus = await import('tus-js-client');
    const storage = tus.defaultOptions.urlStorage;
    if (!storage) {
      return [];
    }
    const all = await storage.findAllUploads();
    return all
      .filter(u => u.metadata?.model && u.metadata?.version)
      .map(u => ({
        key: u.urlStorageKey,
        filename: u.metadata.filename ?? u.metadata.path,
        path: u.metadata.path,
        model: u.metadata.model,
        version: u.metadata.version,
        size: u.size ?? 0,
        creationTime: u.creationTime,
      }));
  },

  async forget(key) {
    const tus = await import('tus-js-client');
    await tus.defaultOptions.urlStorage?.removeUpload(key);
  },
};
