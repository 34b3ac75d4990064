/**
 * The transport of downloads, as the core's download code sees it: a
 * streamed response and a fetcher of (ranges of) files of a repo. Sources
 * (the Hugging Face client, the mirror's on-demand fetches) implement them.
 */

/** A streamed file response (the socket's buffers, no copies). @internal */
export type FileResponse = {
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  /** Views of a reused buffer, valid until the next step: copy to keep. */
  body: AsyncIterable<Uint8Array> | null;
  cancel(): Promise<void>;
};

/** Fetches (a range of) a file of a repo at a commit. @internal */
export type FileFetcher = {
  fileUrl(repoId: string, commit: string, path: string): string;
  streamFile(
    repoId: string,
    commit: string,
    path: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<FileResponse>;
};
