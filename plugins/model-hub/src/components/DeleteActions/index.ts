export { ConfirmDeleteDialog } from './ConfirmDeleteDialog';
export { DeleteModelButton } from './DeleteModelButton';
export {
  DeleteVersionButton,
  OWNER_DELETABLE_STATES,
} from './DeleteVersionButton';
