import {
  HfRepo,
  HubFile,
  HubFileList,
  HubFileTreeNode,
  HubVersion,
} from '../../api';

/** Builds the folder tree of a flat file list, folders first by name. */
export function buildFileTree(files: HubFile[]): HubFileTreeNode {
  const root: HubFileTreeNode = {
    type: 'directory',
    name: '',
    path: '',
    children: [],
  };
  for (const file of files) {
    const parts = file.path.split('/');
    let dir = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const path = parts.slice(0, i + 1).join('/');
      let next = dir.children!.find(
        c => c.type === 'directory' && c.path === path,
      );
      if (!next) {
        next = { type: 'directory', name: parts[i], path, children: [] };
        dir.children!.push(next);
      }
      dir = next;
    }
    dir.children!.push({
      type: 'file',
      name: parts[parts.length - 1],
      path: file.path,
      size: file.size,
      sha256: file.sha256 || undefined,
      kind: file.kind,
      location: file.location,
    });
  }
  return root;
}

/**
 * Adds the files of a synced Hugging Face commit that the hub has not
 * stored yet (with fetch mode `on-demand` or `approval`) to the files of
 * the version pinned to that commit, as `remote` files that can be fetched.
 */
export function withRemoteFiles(
  list: HubFileList,
  version: HubVersion,
  repo: HfRepo | undefined,
): HubFileList {
  if (
    !repo?.files ||
    !version.resolvedCommit ||
    repo.lastSyncedCommit !== version.resolvedCommit
  ) {
    return list;
  }
  const local = new Set(list.files.map(f => f.path));
  const remote: HubFile[] = repo.files
    .filter(f => !local.has(f.path))
    .map(f => ({
      path: f.path,
      size: f.size,
      sha256: f.lfsSha256 ?? '',
      kind: 'other',
      location: 'remote',
    }));
  if (remote.length === 0) {
    return list;
  }
  const files = [...list.files, ...remote];
  return { files, tree: buildFileTree(files) };
}
