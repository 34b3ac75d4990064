export { StatePill } from './StatePill';
