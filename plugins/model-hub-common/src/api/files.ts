import type { FileKind } from './core';

/** A file of a version. @public */
export type HubFile = {
  path: string;
  size: number;
  sha256: string;
  kind: FileKind;
  createdBy?: string;
  createdAt?: string;
};

/** A node of the file tree of a version. @public */
export type HubFileTreeNode = {
  type: 'directory' | 'file';
  name: string;
  path: string;
  size?: number;
  sha256?: string;
  kind?: FileKind;
  children?: HubFileTreeNode[];
};

/**
 * The files of a version, flat and as a tree
 * (`GET /models/{namespace}/{name}/versions/{label}/files`).
 *
 * @public
 */
export type HubFileList = { files: HubFile[]; tree: HubFileTreeNode };
