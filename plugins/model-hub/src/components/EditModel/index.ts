export { EditModelButton, modelPatch } from './EditModelButton';
