/**
 * Keeps a replica's memory in step with the others: on a shared store, every change notice makes
 * the repository check the collection, and a gap in the notices makes it forget everything.
 */
import type { Repository } from '../repository.js';
import type { MetadataStore } from '../storage/store.js';
import { isSharedStore } from './shared-store.js';

/** @returns a function that stops watching; undefined when the store is not shared */
export function watchReplicaChanges(store: MetadataStore, repository: Repository, log: (line: string) => void): (() => Promise<void>) | undefined {
  if (!isSharedStore(store)) return undefined;
  return store.watchChanges({
    changed: (gun) => {
      repository.collectionChanged(gun).catch(() => repository.forgetAllState());
    },
    gap: () => repository.forgetAllState(),
    failed: (err) => log(`tagtrust-server: listening for other replicas' changes failed (retrying): ${err.message}`),
  });
}
