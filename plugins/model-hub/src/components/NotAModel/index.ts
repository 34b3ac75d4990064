export { NotAModel } from './NotAModel';
