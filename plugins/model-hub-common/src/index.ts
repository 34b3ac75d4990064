/**
 * Shared types, the `Model` entity kind (types, JSON schema, type guard and
 * validator), relation names and permissions of Model Hub.
 *
 * @packageDocumentation
 */

export * from './types';
export * from './relations';
export * from './validation';
export * from './permissions';
export * from './api';
