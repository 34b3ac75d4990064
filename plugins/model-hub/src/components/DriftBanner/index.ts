export { DriftBanner, showsDrift, syncOfRepo } from './DriftBanner';
