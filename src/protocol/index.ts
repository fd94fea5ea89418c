/**
 * The wire protocol in one place: the objects (types), the request schemas, the
 * envelope, the error vocabulary and the frame encoders. Nothing here imports
 * anything outside src/protocol/.
 */
export * from './types';
export * from './requests';
export * from './envelope';
export * from './errors';
export * from './frames';
export * from './schema';
