export { LocalScanPage } from './LocalScanPage';
