/**
 * The storage contract behind tagtrust-server. Every backend implements it and passes the same
 * contract tests (test/storage-contract.test.ts).
 *
 * Rules:
 * - Metadata is stored as the exact bytes served to clients, per (collection, role, version).
 *   A stored version never changes; a newer version becomes "latest" only through `commit`.
 * - `commit` is atomic: either every file, key and record in the change is written, or none is.
 * - `commit` is a compare-and-swap on the latest versions: it throws `StaleVersionError` when any
 *   role's latest version is not the one the change was built on, and then writes nothing.
 *   Callers still serialise writes per collection (see collection-lock.ts) to keep retries cheap.
 * - Reads of missing things return `undefined`; they never throw for "not found".
 */
import type { SealedKey } from '@tagtrust/keys';

export interface StoredFile {
  role: string;
  version: number;
  /** The exact JSON text served for this version. */
  text: string;
}

/** Server-held online keys of a collection, sealed with the master key. */
export type ServerKeyRole = 'snapshot' | 'timestamp';

export interface Change {
  gun: string;
  /** Role -> the latest version the change was built on (0: the role has no version yet). */
  expectedLatest: Record<string, number>;
  files: StoredFile[];
  /** Pending changes (by id) this change publishes: deleted in the same atomic write. */
  deletePending?: string[];
}

export class StaleVersionError extends Error {
  constructor(
    readonly role: string,
    readonly expected: number,
    readonly latest: number,
  ) {
    super(`${role} is at version ${latest}, not ${expected}`);
    this.name = 'StaleVersionError';
  }
}

export interface MetadataStore {
  /** The latest version of a role, or undefined when the role has none. */
  getLatest(gun: string, role: string): Promise<StoredFile | undefined>;
  /** One exact version of a role, or undefined. */
  getVersion(gun: string, role: string, version: number): Promise<StoredFile | undefined>;
  /** Atomically stores the files and moves each role's latest pointer. @throws StaleVersionError */
  commit(change: Change): Promise<void>;
  /** The sealed server key of a collection's role, or undefined. */
  getServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined>;
  /** Stores a sealed server key unless one exists; returns the one stored (the existing one wins). */
  putServerKeyIfAbsent(gun: string, role: ServerKeyRole, key: SealedKey): Promise<SealedKey>;
  /**
   * Pending changes: a staging area for changes that wait for more signatures (pending/*.ts).
   * Each is stored as opaque JSON text under (collection, id).
   * - `putPending` creates or replaces one; it is not versioned (the caller serialises writes per collection).
   * - `getPending` returns undefined for a missing id; `listPending` returns a collection's, by id.
   * - `deletePending` of a missing id is a no-op. `commit` with `deletePending` deletes atomically with the files.
   */
  putPending(gun: string, id: string, text: string): Promise<void>;
  getPending(gun: string, id: string): Promise<string | undefined>;
  listPending(gun: string): Promise<string[]>;
  deletePending(gun: string, id: string): Promise<void>;
  /** Names of collections with a published root, in lexical order. */
  listCollections(): AsyncIterable<string>;
  close(): Promise<void>;
}
