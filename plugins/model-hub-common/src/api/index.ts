/*
 * The shapes of the Model Hub REST API (`openapi.yaml` of the backend) that
 * the backend serves and the frontend, the scaffolder actions and the
 * catalog module read, with the state enums and file-kind rules.
 */
export * from './core';
export * from './models';
export * from './files';
export * from './jobs';
export * from './reviews';
export * from './activity';
export * from './huggingface';
export * from './sources';
export * from './tokens';
export * from './entityFeed';
export * from './transfer';
