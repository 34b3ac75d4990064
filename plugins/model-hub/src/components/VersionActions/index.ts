export { VersionActions } from './VersionActions';
export type { VersionActionId } from './VersionActions';
export { CommentThread } from './CommentThread';
