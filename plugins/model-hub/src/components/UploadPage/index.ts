export { UploadPage } from './UploadPage';
export type { UploadPageProps } from './UploadPage';
