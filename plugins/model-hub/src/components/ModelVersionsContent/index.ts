export { ModelVersionsContent } from './ModelVersionsContent';
export { CreateVersionDialog } from './CreateVersionDialog';
export { HowToUse, howToUseText } from './HowToUse';
