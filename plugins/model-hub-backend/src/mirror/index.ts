export { createMirror } from './createMirror';
export type { MirrorOptions } from './createMirror';
export { addDisabledMirrorRoutes } from './createMirror';
export type { MirrorRoutes } from './createMirror';
