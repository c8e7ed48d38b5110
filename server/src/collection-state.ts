/**
 * What the repository remembers of its collections, and its way into the store: the read cache of
 * the latest files, parsed targets, the tag logs' edges, timestamp expiries, the collection locks,
 * and the one commit every write goes through. Shared by publishing (publish-collection.ts),
 * renewal (timestamp-renewal.ts) and the rest of Repository.
 *
 * Rules:
 * - The store is the truth; everything here is a copy that a commit replaces synchronously right
 *   after the store has the change, and that is dropped when the store may have moved without it
 *   (a failed commit, another replica's change, a reopened database).
 * - On a store shared with other replicas, `catchUp` compares the database's latest versions with
 *   the cached ones and forgets the collection when they differ.
 */
import { InvalidInputError, VersionConflictError } from '@tagtrust/shared';
import type { Metadata } from '@tagtrust/shared';
import { CollectionLocks } from './collection-lock.js';
import { ExpiryIndex } from './metrics/expiry-index.js';
import type { OnlineKeys } from './online-keys.js';
import type { OnlineLifetimes } from './online-signing.js';
import { ParsedTargetsCache } from './parsed-targets.js';
import type { ParsedTargets } from './parsed-targets.js';
import { PreparedFile, ReadCache } from './read-cache.js';
import { FreshVersions } from './replication/fresh-versions.js';
import { isSharedStore } from './replication/shared-store.js';
import type { AuditEntry, LogAppend, MetadataStore, ServerKeyRole, StoredFile } from './storage/store.js';
import { StaleKeyError, StaleVersionError } from './storage/store.js';
import { TagLog } from './tag-log/tag-log.js';

export interface CollectionStateOptions {
  store: MetadataStore;
  onlineKeys: OnlineKeys;
  lifetimes: OnlineLifetimes;
  now: () => Date;
  readCacheBytes?: number;
  expiries?: ExpiryIndex;
}

/** What a commit writes besides the files. */
export interface CommitExtra {
  audit?: AuditEntry;
  activateKeys?: Partial<Record<ServerKeyRole, string>>;
  deletePending?: string[];
  log?: LogAppend;
}

export class CollectionState {
  readonly store: MetadataStore;
  readonly onlineKeys: OnlineKeys;
  readonly lifetimes: OnlineLifetimes;
  readonly now: () => Date;
  readonly locks = new CollectionLocks();
  readonly cache: ReadCache;
  /** The latest targets parsed, with their canonical form, for the next publish. */
  readonly parsedTargets = new ParsedTargetsCache();
  /** The same for delegated roles and hashed bins (their own budget: bins do not push out targets). */
  readonly parsedDelegated = new ParsedTargetsCache(4 * 1024 * 1024);
  /** The collections' tag transparency logs (tag-log/). */
  readonly tagLog: TagLog;
  /** Latest timestamp expiry per collection (ms), so reads can tell cheaply whether to renew. */
  readonly timestampExpiry = new Map<string, number>();
  /** Latest expiry of each collection's top-level roles, for the metrics (metrics/expiry-index.ts). */
  readonly expiries: ExpiryIndex;
  /** Set when other replicas write to the same store. */
  readonly freshVersions: FreshVersions | undefined;

  constructor(options: CollectionStateOptions) {
    const store = options.store;
    this.store = store;
    this.onlineKeys = options.onlineKeys;
    this.lifetimes = options.lifetimes;
    this.now = options.now;
    this.cache = new ReadCache({ maxBytes: options.readCacheBytes });
    this.tagLog = new TagLog(store);
    this.expiries = options.expiries ?? new ExpiryIndex();
    this.freshVersions = isSharedStore(store) ? new FreshVersions((gun) => store.latestVersions(gun)) : undefined;
  }

  /** Drops everything remembered about `gun`; the store stays the truth. */
  forgetCollection(gun: string): void {
    this.cache.invalidate(gun);
    this.tagLog.forget(gun);
    this.onlineKeys.changed(gun);
    this.timestampExpiry.delete(gun);
  }

  /** Drops everything remembered about every collection (changes by other replicas may have been missed). */
  forgetAll(): void {
    this.cache.invalidateAll();
    this.tagLog.forgetAll();
    this.onlineKeys.changedAll();
    this.timestampExpiry.clear();
  }

  /** On a shared store: forgets `gun` if the database's latest versions are not the ones remembered. */
  async catchUp(gun: string): Promise<void> {
    if (!this.freshVersions) return;
    const stored = await this.freshVersions.get(gun);
    const cached = this.cache.versions(gun);
    const moved = [...stored].some(([role, version]) => cached.has(role) && cached.get(role) !== version) || [...cached.keys()].some((role) => !stored.has(role));
    if (moved) this.forgetCollection(gun);
  }

  /** The latest file of a role from the store, put into the read cache. */
  async loadLatestPrepared(gun: string, role: string): Promise<PreparedFile | undefined> {
    const ticket = this.cache.ticket();
    const stored = await this.store.getLatest(gun, role);
    if (!stored) return undefined;
    const prepared = new PreparedFile(stored);
    this.cache.fill(gun, prepared, ticket);
    return prepared;
  }

  /** The latest version of a role, parsed; from the read cache when it holds it (no renewal here). */
  async loadLatest<T extends Metadata['signed']>(gun: string, role: string): Promise<Metadata<T> | undefined> {
    const file = this.cache.get(gun, role) ?? (await this.loadLatestPrepared(gun, role));
    return file === undefined ? undefined : (JSON.parse(file.body.toString('utf8')) as Metadata<T>);
  }

  /** The latest top-level targets, parsed (shared: do not modify), from the read cache when it holds them. */
  loadLatestTargets(gun: string): Promise<ParsedTargets | undefined> {
    return this.loadLatestParsed(gun, 'targets', this.parsedTargets);
  }

  /** The latest version of a delegated role or bin, parsed (shared: do not modify). */
  loadLatestDelegated(gun: string, role: string): Promise<ParsedTargets | undefined> {
    return this.loadLatestParsed(gun, role, this.parsedDelegated);
  }

  private async loadLatestParsed(gun: string, role: string, parsed: ParsedTargetsCache): Promise<ParsedTargets | undefined> {
    const file = this.cache.get(gun, role) ?? (await this.loadLatestPrepared(gun, role));
    return file === undefined ? undefined : parsed.get(gun, file);
  }

  /**
   * Commits `files` atomically if the latest versions are still `expectedLatest`, then puts them
   * into the read cache.
   * @throws VersionConflictError (409) when a role moved on; InvalidInputError when a key rotation was replaced
   */
  async commit(gun: string, files: StoredFile[], expectedLatest: Record<string, number>, extra: CommitExtra = {}): Promise<void> {
    try {
      await this.store.commit({ gun, files, expectedLatest, ...extra });
      this.cache.replace(gun, files);
    } catch (err) {
      if (err instanceof StaleKeyError) {
        this.onlineKeys.changed(gun);
        throw new InvalidInputError(`the ${err.role} key rotation was replaced by a newer one while publishing: run \`tagtrust key rotate\` again`, { cause: err });
      }
      if (err instanceof StaleVersionError) {
        // The store moved on without this process's cache knowing: drop it so a retry reads the store.
        this.cache.invalidate(gun);
        this.tagLog.forget(gun);
        throw new VersionConflictError(err.role, err.latest, `${err.role} changed while publishing (now v${err.latest}): fetch the latest and retry`, { cause: err });
      }
      throw err;
    }
  }
}
