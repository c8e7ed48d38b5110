/**
 * What a store shared by several tagtrust-server replicas (PgStore) offers besides the storage
 * contract, so that each replica's in-memory state (read cache, online keys, tag log heads) stays
 * correct while other replicas write:
 * - `latestVersions`: the database's latest version of each role of a collection, read cheaply, to
 *   check the memory against before answering what must never go back (timestamp.json, publishes);
 * - `watchChanges`: a notice for every collection another writer changed, to drop its state early.
 */
import type { MetadataStore } from '../storage/store.js';
import type { ChangeHandlers } from './pg-change-listener.js';

export interface SharedStore {
  latestVersions(gun: string): Promise<Map<string, number>>;
  /** @returns a function that stops listening */
  watchChanges(handlers: ChangeHandlers): () => Promise<void>;
}

export function isSharedStore(store: MetadataStore): store is MetadataStore & SharedStore {
  return typeof (store as Partial<SharedStore>).latestVersions === 'function' && typeof (store as Partial<SharedStore>).watchChanges === 'function';
}
