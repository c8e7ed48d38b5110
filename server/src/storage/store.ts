/**
 * The storage contract behind tagtrust-server. Every backend implements it and passes the same
 * contract tests (test/storage-contract.test.ts; the audit, pending-key, deletion and token methods in
 * test/storage-lifecycle-contract.test.ts).
 *
 * Rules:
 * - Metadata is stored as the exact bytes served to clients, per (collection, role, version).
 *   A stored version never changes; a newer version becomes "latest" only through `commit`.
 * - `commit` is atomic: either every file, key and record in the change is written, or none is.
 * - `commit` is a compare-and-swap on the latest versions: it throws `StaleVersionError` when any
 *   role's latest version is not the one the change was built on, and then writes nothing.
 *   Callers still serialise writes per collection (see collection-lock.ts) to keep retries cheap.
 * - Reads of missing things return `undefined`; they never throw for "not found".
 * - The audit trail is append-only: every method that changes a collection takes the audit entry
 *   describing the change and writes it in the same atomic batch, with the next sequence number of
 *   that collection (1, 2, 3, ...). Deleting a collection keeps its audit trail.
 * - Server keys: each (collection, snapshot|timestamp) has at most one active and one pending key.
 *   A pending key becomes active only through `commit` (`activateKeys`), which deletes the old
 *   active key in the same batch.
 * - Tokens are stored by the sha256 of their secret; the secret itself is never stored. Token
 *   changes are recorded in the server's own audit trail, under the empty GUN `SERVER_AUDIT`.
 */
import type { SealedKey } from '@tagtrust/keys';
import type { DelegationEvent } from '../delegation-changes.js';

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
  /**
   * Server roles whose pending key becomes active with this change: role -> the pending key's ID.
   * The old active key is deleted in the same batch.
   */
  activateKeys?: Partial<Record<ServerKeyRole, string>>;
  /** The audit entry recording this change; renewals of snapshot/timestamp have none. */
  audit?: AuditEntry;
  /** Pending changes (by id) this change publishes: deleted in the same atomic write. */
  deletePending?: string[];
  /** Tag changes appended to the collection's transparency log, in the same atomic write. */
  log?: LogAppend;
}

/**
 * Writes that append leaves to a collection's tag transparency log (tag-log/tag-log.ts). The log
 * is append-only: `start` must be the log's current size (else the commit throws StaleVersionError
 * for the role `log` and writes nothing); stored leaves and subtree hashes never change.
 */
export interface LogAppend {
  /** Index of the first new leaf: the log's size the append was built on. */
  start: number;
  /** The new leaves, canonical JSON text. */
  leaves: string[];
  /** Complete subtree hashes (hex) the new leaves close, with their level and index. */
  nodes: { level: number; index: number; hash: string }[];
  /** tag -> the digest now recorded for it (null: removed). */
  tags: Record<string, string | null>;
}

/** A tag whose signed digest changed. `from`/`to` are `sha256:<hex>`; absent for added/removed. */
export interface TagChange {
  tag: string;
  change: 'added' | 'moved' | 'removed';
  from?: string;
  to?: string;
  /** The targets role that signed the change: `targets`, a delegated role or a hashed bin. */
  role?: string;
  /** Key IDs whose signatures on that role made its threshold. */
  keyIds?: string[];
}

/** One accepted change to a collection, as the caller describes it (the store adds `seq`). */
export interface AuditEntry {
  /** ISO time of the change. */
  time: string;
  /** Name of the token that made the change (`admin` for the bootstrap admin token). */
  actor: string;
  action: 'publish' | 'rotate-key' | 'delete' | 'create-token' | 'revoke-token' | 'refused';
  /** Role -> version, for every role the change wrote. */
  versions?: Record<string, number>;
  /** Tag changes of a targets publish. */
  tags?: TagChange[];
  /** Server keys this change created (pending) or switched to (active): role -> key ID. */
  keys?: { pending?: Partial<Record<ServerKeyRole, string>>; activated?: Partial<Record<ServerKeyRole, string>> };
  /** Publisher roles whose keys the change replaced (from a new root): role -> new key IDs. */
  rootKeyChanges?: Record<string, string[]>;
  /** Changes to delegations (roles added/removed, keys revoked, thresholds, paths) this publish made. */
  delegations?: DelegationEvent[];
  /** The token a create-token/revoke-token change is about (never its secret or digest). */
  token?: { name: string; scopes?: string[] };
  /** A change of the signed immutability policy: the patterns before and after. */
  policy?: { from: string[]; to: string[] };
  /** A refused publish (action `refused`): the error code and its one-line message. */
  refusal?: { code: string; message: string };
}

/** The "GUN" of the server-wide audit trail (token changes); no collection has an empty name. */
export const SERVER_AUDIT = '';

export interface AuditRecord extends AuditEntry {
  gun: string;
  /** Position in the collection's audit trail, from 1. */
  seq: number;
}

/** A bearer token as stored: its name, scopes and the sha256 (hex) of its secret. */
export interface TokenRecord {
  name: string;
  scopes: string[];
  sha256: string;
  created: string;
  /** ISO time after which the token is refused; absent: it does not expire. */
  expires?: string;
  /** ISO time the token was last used (recorded at most about once a minute); only from listTokens. */
  lastUsed?: string;
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

/** A pending key to activate is not (or no longer) the collection's pending key; nothing was written. */
export class StaleKeyError extends Error {
  constructor(
    readonly role: ServerKeyRole,
    readonly keyId: string,
  ) {
    super(`the pending ${role} key is no longer ${keyId.slice(0, 8)}`);
    this.name = 'StaleKeyError';
  }
}

/** A token with this name exists already; nothing was written. */
export class TokenExistsError extends Error {
  constructor(readonly tokenName: string) {
    super(`a token named ${tokenName} exists`);
    this.name = 'TokenExistsError';
  }
}

export interface MetadataStore {
  /** The latest version of a role, or undefined when the role has none. */
  getLatest(gun: string, role: string): Promise<StoredFile | undefined>;
  /** One exact version of a role, or undefined. */
  getVersion(gun: string, role: string, version: number): Promise<StoredFile | undefined>;
  /**
   * Atomically stores the files, moves each role's latest pointer, activates pending keys and
   * appends the audit entry.
   * @throws StaleVersionError when a role moved on; StaleKeyError when a key to activate is not pending
   */
  commit(change: Change): Promise<void>;
  /** The sealed server key of a collection's role, or undefined. */
  getServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined>;
  /** Stores a sealed server key unless one exists; returns the one stored (the existing one wins). */
  putServerKeyIfAbsent(gun: string, role: ServerKeyRole, key: SealedKey): Promise<SealedKey>;
  /** The pending (rotation) key of a collection's role, or undefined. */
  getPendingServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined>;
  /**
   * Stores a pending key for a role, replacing any earlier pending key, and appends `audit`, in one
   * batch. The active key is unchanged until a commit activates the pending one.
   */
  putPendingServerKey(gun: string, role: ServerKeyRole, key: SealedKey, audit: AuditEntry): Promise<void>;
  /**
   * Deletes every file, latest pointer, key (active and pending), staged change and the listing of a collection and
   * appends `audit`, in one batch. The audit trail stays. @returns false (writing nothing) when the
   * collection has no root.
   */
  deleteCollection(gun: string, audit: AuditEntry): Promise<boolean>;
  /** Up to `limit` audit records of a collection with seq > `after`, oldest first. */
  listAudit(gun: string, after: number, limit: number): Promise<AuditRecord[]>;
  /**
   * Stores a new token and appends `audit` to the server trail, in one batch.
   * @throws TokenExistsError when the name is taken (writing nothing)
   */
  putToken(token: TokenRecord, audit: AuditEntry): Promise<void>;
  /** The token whose secret has this sha256 (hex), or undefined. */
  getTokenBySha256(sha256: string): Promise<TokenRecord | undefined>;
  /** Every token, by name, with `lastUsed` when a use was recorded. */
  listTokens(): Promise<TokenRecord[]>;
  /** Records when a token was last used (not audited; overwritten). A token deleted meanwhile is not recreated. */
  recordTokenUse(name: string, time: string): Promise<void>;
  /**
   * Deletes a token by name and appends `audit` to the server trail, in one batch.
   * @returns false (writing nothing) when there is no such token
   */
  deleteToken(name: string, audit: AuditEntry): Promise<boolean>;
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
  /**
   * Appends `audit` alone (e.g. a refused publish), with the next sequence number of `gun`.
   */
  appendAudit(gun: string, audit: AuditEntry): Promise<void>;
  /** The number of leaves in a collection's tag log (0 when it has none). Deleting a collection keeps its log. */
  getLogSize(gun: string): Promise<number>;
  /** Stored subtree hashes (hex) of a collection's log, undefined where missing. */
  getLogNodes(gun: string, ids: { level: number; index: number }[]): Promise<(string | undefined)[]>;
  /** The leaves [start, end) of a collection's log (fewer when the log is shorter). */
  getLogLeaves(gun: string, start: number, end: number): Promise<string[]>;
  /** The digest the log last recorded for each tag, undefined for never recorded or removed. */
  getLoggedDigests(gun: string, tags: string[]): Promise<(string | undefined)[]>;
  /**
   * Runs `task` (reads, then writes, of one collection's staging area) while no other process sharing
   * this store runs one for the same collection. Level is one process: callers' in-process locks
   * already serialise it. On PostgreSQL several replicas share the store: a session advisory lock.
   */
  withCollectionLock<T>(gun: string, task: () => Promise<T>): Promise<T>;
  /** Names of collections with a published root, in lexical order. */
  listCollections(): AsyncIterable<string>;
  close(): Promise<void>;
}
