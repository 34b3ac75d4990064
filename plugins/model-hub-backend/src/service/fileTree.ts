import { HubFile } from '../database/types';

/** A node of the file tree of a version. @internal */
export type FileTreeNode =
  | {
      type: 'directory';
      name: string;
      path: string;
      size: number;
      children: FileTreeNode[];
    }
  | ({ type: 'file'; name: string } & HubFile);

/**
 * Builds the directory tree of a list of files; directories first, then
 * files, each sorted by name, with the total size of every directory.
 *
 * @internal
 */
export function buildFileTree(files: HubFile[]): FileTreeNode {
  const root: FileTreeNode = {
    type: 'directory',
    name: '',
    path: '',
    size: 0,
    children: [],
  };
  for (const file of files) {
    const segments = file.path.split('/');
    let dir = root;
    dir.size += file.size;
    for (let i = 0; i < segments.length - 1; i++) {
      const path = segments.slice(0, i + 1).join('/');
      let next = dir.children.find(
        c => c.type === 'directory' && c.name === segments[i],
      );
      if (!next) {
        next = {
          type: 'directory',
          name: segments[i],
          path,
          size: 0,
          children: [],
        };
        dir.children.push(next);
      }
      dir = next as typeof root;
      dir.size += file.size;
    }
    dir.children.push({
      type: 'file',
      name: segments[segments.length - 1],
      ...file,
    });
  }
  const sort = (node: FileTreeNode) => {
    if (node.type === 'directory') {
      node.children.sort((a, b) => {
        if (a.type === b.type) {
          return a.name.localeCompare(b.name, 'en');
        }
        return a.type === 'directory' ? -1 : 1;
      });
      node.children.forEach(sort);
    }
  };
  sort(root);
  return root;
}
