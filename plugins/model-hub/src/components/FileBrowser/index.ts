export { FileBrowser } from './FileBrowser';
export type { FileBrowserProps } from './FileBrowser';
