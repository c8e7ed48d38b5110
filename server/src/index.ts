export { startServer, defaultConfig } from './server.js';
export type { RunningServer, ServerConfig } from './server.js';
export { Repository } from './repository.js';
export type { RepositoryOptions } from './repository.js';
export { LevelStore } from './storage/level-store.js';
export { StaleVersionError } from './storage/store.js';
export type { Change, MetadataStore, ServerKeyRole, StoredFile } from './storage/store.js';
export { OnlineKeys } from './online-keys.js';
