import IconButton from '@material-ui/core/IconButton';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import Chip from '@material-ui/core/Chip';
import CloudDownloadIcon from '@material-ui/icons/CloudDownload';
import GetAppIcon from '@material-ui/icons/GetApp';
import ExpandMoreIcon from '@material-ui/icons/ExpandMore';
import ChevronRightIcon from '@material-ui/icons/ChevronRight';
import FolderIcon from '@material-ui/icons/Folder';
import DescriptionIcon from '@material-ui/icons/DescriptionOutlined';
import { Fragment, useState } from 'react';
import { HubFileTreeNode } from '../../api';
import { formatBytes } from '../../lib/format';

/** Totals of a folder: size, and whether any file is still remote. */
function summarize(node: HubFileTreeNode): {
  size: number;
  remote: number;
  files: number;
} {
  if (node.type === 'file') {
    return {
      size: node.size ?? 0,
      remote: node.location === 'remote' ? 1 : 0,
      files: 1,
    };
  }
  return (node.children ?? []).reduce(
    (acc, c) => {
      const s = summarize(c);
      return {
        size: acc.size + s.size,
        remote: acc.remote + s.remote,
        files: acc.files + s.files,
      };
    },
    { size: 0, remote: 0, files: 0 },
  );
}

function sortNodes(nodes: HubFileTreeNode[]) {
  return [...nodes].sort((a, b) => {
    if (a.type !== b.type) {
      return a.type === 'directory' ? -1 : 1;
    }
    return a.name.localeCompare(b.name, 'en');
  });
}

/** Props of {@link FileBrowser}. @public */
export type FileBrowserProps = {
  /** The root of the tree (its own name is not shown). */
  tree: HubFileTreeNode;
  /** Downloads a file; the button is hidden when absent. */
  onDownload?: (path: string) => void;
  /**
   * Fetches files or a folder from the Hugging Face source; the button is
   * shown on remote files and folders with remote files when present.
   */
  onFetch?: (paths: string[]) => void;
  /** Whether downloads are allowed (disables the buttons otherwise). */
  canDownload?: boolean;
  /** Whether fetching is allowed (disables the buttons otherwise). */
  canFetch?: boolean;
};

/**
 * The files of a version as a tree: size, SHA-256, whether the bytes are in
 * the hub's store (local) or only at the source (remote), with download and
 * "fetch from Hugging Face" actions per file or folder.
 *
 * @public
 */
export function FileBrowser(props: FileBrowserProps) {
  const { tree, onDownload, onFetch } = props;
  const canDownload = props.canDownload ?? true;
  const canFetch = props.canFetch ?? true;
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());

  if (!tree.children || tree.children.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        This version has no files.
      </Typography>
    );
  }

  const toggle = (path: string) =>
    setCollapsed(prev => {
      const next = new Set(prev);
      if (next.has(path)) {
        next.delete(path);
      } else {
        next.add(path);
      }
      return next;
    });

  const rows = (nodes: HubFileTreeNode[], depth: number): JSX.Element[] =>
    sortNodes(nodes).map(node => {
      const isDir = node.type === 'directory';
      const open = isDir && !collapsed.has(node.path);
      const summary = summarize(node);
      const remote = isDir ? summary.remote > 0 : node.location === 'remote';
      return (
        <Fragment key={node.path}>
          <TableRow data-path={node.path} hover>
            <TableCell style={{ paddingLeft: 8 + depth * 20 }}>
              <span
                style={{ display: 'inline-flex', alignItems: 'center', gap: 4 }}
              >
                {isDir ? (
                  <IconButton
                    size="small"
                    aria-label={`${open ? 'Collapse' : 'Expand'} ${node.path}`}
                    onClick={() => toggle(node.path)}
                  >
                    {open ? <ExpandMoreIcon /> : <ChevronRightIcon />}
                  </IconButton>
                ) : (
                  <span style={{ width: 30 }} />
                )}
                {isDir ? (
                  <FolderIcon fontSize="small" />
                ) : (
                  <DescriptionIcon fontSize="small" />
                )}
                <span>{node.name}</span>
              </span>
            </TableCell>
            <TableCell align="right">
              {formatBytes(isDir ? summary.size : node.size)}
            </TableCell>
            <TableCell>
              {node.sha256 ? (
                <Tooltip title={node.sha256}>
                  <code aria-label={`SHA-256 of ${node.path}`}>
                    {node.sha256.slice(0, 12)}…
                  </code>
                </Tooltip>
              ) : (
                isDir && `${summary.files} files`
              )}
            </TableCell>
            <TableCell>
              <Chip
                size="small"
                variant="outlined"
                label={remote ? 'Remote' : 'Local'}
                title={
                  remote
                    ? 'Only at the source; fetch it to store it in the hub'
                    : 'Stored in the hub'
                }
              />
            </TableCell>
            <TableCell align="right">
              {onFetch && remote && (
                <Tooltip title="Fetch from Hugging Face">
                  <span>
                    <IconButton
                      size="small"
                      aria-label={`Fetch ${node.path} from Hugging Face`}
                      disabled={!canFetch}
                      onClick={() => onFetch([node.path])}
                    >
                      <CloudDownloadIcon fontSize="small" />
                    </IconButton>
                  </span>
                </Tooltip>
              )}
              {onDownload && !isDir && !remote && (
                <Tooltip title="Download">
                  <span>
                    <IconButton
                      size="small"
                      aria-label={`Download ${node.path}`}
                      disabled={!canDownload}
                      onClick={() => onDownload(node.path)}
                    >
                      <GetAppIcon fontSize="small" />
                    </IconButton>
                  </span>
                </Tooltip>
              )}
            </TableCell>
          </TableRow>
          {open && rows(node.children ?? [], depth + 1)}
        </Fragment>
      );
    });

  return (
    <Table size="small" aria-label="Files">
      <TableHead>
        <TableRow>
          <TableCell>Name</TableCell>
          <TableCell align="right">Size</TableCell>
          <TableCell>SHA-256</TableCell>
          <TableCell>Stored</TableCell>
          <TableCell align="right">Actions</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>{rows(tree.children, 0)}</TableBody>
    </Table>
  );
}
