/**
 * The collections a server hosts, as the HTTP routes and the admin commands see them: publishing
 * (publish-collection.ts), reads through the cache of the latest files, renewal of the online-signed
 * roles (timestamp-renewal.ts), online-key rotation, deletion, the audit changefeed and listings.
 *
 * Invariants:
 * - Writes to one collection are serialised (CollectionLocks) and committed atomically through
 *   CollectionState.commit (collection-state.ts).
 * - While the server holds a collection's timestamp key it never serves an expired timestamp: reads
 *   of the latest `timestamp.json` renew it first when due (timestamp-renewal.ts).
 * - Every accepted change (publish, key rotation request, deletion) is recorded in the audit trail
 *   in the same atomic write as the change itself. Renewals are not changes and are not recorded.
 * - Online-key rotation: `rotateOnlineKey` stores a pending key; the active key keeps signing until a
 *   publish commits a root that lists the pending key (publish-collection.ts).
 * - Reads go through an in-memory cache of the latest files (read-cache.ts), which every commit
 *   replaces synchronously right after the store has the change.
 * - On a store shared with other replicas (replication/shared-store.ts), reads of the latest
 *   timestamp and publishes first check the database's latest versions and drop what this process
 *   remembers of the collection if it moved on (`catchUp`); versions newer than the cached latest
 *   are looked up in the store, and no collection is remembered as absent.
 */
import { NotFoundError, TOP_LEVEL_ROLES } from '@tagtrust/shared';
import type { PublishResponse, TufKey } from '@tagtrust/shared';
import { CollectionState } from './collection-state.js';
import type { ExpiryIndex } from './metrics/expiry-index.js';
import { publishOutcome } from './metrics/metrics.js';
import type { PublishOutcome } from './metrics/metrics.js';
import type { OnlineKeys } from './online-keys.js';
import type { OnlineLifetimes } from './online-signing.js';
import { publishToCollection } from './publish-collection.js';
import { PreparedFile } from './read-cache.js';
import type { RenewalHealth } from './renewal-failures.js';
import type { AuditEntry, AuditRecord, MetadataStore, ServerKeyRole } from './storage/store.js';
import type { TagLog } from './tag-log/tag-log.js';
import { TimestampRenewal } from './timestamp-renewal.js';

const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;

/** One collection as the admin listing shows it. */
export interface CollectionSummary {
  gun: string;
  /** Role -> latest version, expiry and milliseconds left (negative when expired). */
  roles: Record<string, { version: number; expires: string; remainingMs: number }>;
}

/** A page of a collection's audit trail. */
export interface ChangefeedPage {
  gun: string;
  records: AuditRecord[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: number;
}

export interface RepositoryOptions {
  store: MetadataStore;
  onlineKeys: OnlineKeys;
  lifetimes: OnlineLifetimes;
  /** Renew when less than this fraction of a lifetime remains (default 0.5). */
  renewFraction?: number;
  now?: () => Date;
  /** Largest total of latest metadata kept in memory, in bytes (default 256 MiB). */
  readCacheBytes?: number;
  /** Told the outcome and duration of every publish (for metrics). */
  onPublish?: (outcome: PublishOutcome, seconds: number) => void;
  /** Where the latest expiries are recorded (for metrics; default: an index of its own). */
  expiries?: ExpiryIndex;
  /** Where renewal failures are logged (default stderr). */
  log?: (line: string) => void;
}

export class Repository {
  /** Latest expiry of each collection's top-level roles, for the metrics (metrics/expiry-index.ts). */
  readonly expiries: ExpiryIndex;
  /** The collections' tag transparency logs (tag-log/). */
  readonly tagLog: TagLog;
  private readonly onPublish: RepositoryOptions['onPublish'];
  private readonly state: CollectionState;
  private readonly renewal: TimestampRenewal;

  constructor(options: RepositoryOptions) {
    this.state = new CollectionState({
      store: options.store,
      onlineKeys: options.onlineKeys,
      lifetimes: options.lifetimes,
      now: options.now ?? (() => new Date()),
      readCacheBytes: options.readCacheBytes,
      expiries: options.expiries,
    });
    this.expiries = this.state.expiries;
    this.tagLog = this.state.tagLog;
    this.onPublish = options.onPublish;
    this.renewal = new TimestampRenewal(this.state, options.renewFraction ?? 0.5, options.log ?? ((line) => process.stderr.write(`${line}\n`)));
  }

  /** Collections whose renewal keeps failing (for /healthz and /readyz). */
  renewalHealth(): RenewalHealth {
    return this.renewal.health();
  }

  /**
   * Another writer changed `gun` (a notice from the shared store): forgets its keys, and the rest of
   * what this process remembers of it when its versions moved (this process's own commits did not).
   */
  collectionChanged(gun: string): Promise<void> {
    this.state.onlineKeys.changed(gun);
    return this.state.catchUp(gun);
  }

  /** Drops everything remembered about every collection (changes by other replicas may have been missed). */
  forgetAllState(): void {
    this.state.forgetAll();
  }

  /**
   * A metadata file ready to send: the latest, or an exact version. Undefined when it does not exist.
   * The latest timestamp is renewed first when it is due (never serve an expired timestamp).
   */
  async readPrepared(gun: string, role: string, version?: number): Promise<PreparedFile | undefined> {
    if (this.state.cache.isAbsent(gun)) return undefined;
    if (version === undefined && role === 'timestamp') await this.state.catchUp(gun);
    const ticket = this.state.cache.ticket();
    if (version === undefined && role === 'timestamp') await this.renewal.renewTimestampIfDue(gun);
    const latest = this.state.cache.get(gun, role) ?? (await this.state.loadLatestPrepared(gun, role));
    // Every collection has all four top-level roles from its first commit on.
    if (!latest && !this.state.freshVersions && (TOP_LEVEL_ROLES as readonly string[]).includes(role)) this.state.cache.markAbsent(gun, ticket);
    if (version === undefined || latest?.version === version) return latest;
    // No version newer than the latest exists (e.g. the client's probe for the next root); with
    // replicas, another one may have committed it since this one cached its latest.
    if (!this.state.freshVersions && (!latest || version > latest.version)) return undefined;
    // Older versions are immutable and rarely read: straight from the store, not cached.
    const stored = await this.state.store.getVersion(gun, role, version);
    return stored && new PreparedFile(stored);
  }

  /** True on a store shared with other replicas: the latest timestamp is served only after `catchUp`. */
  get checksLatest(): boolean {
    return this.state.freshVersions !== undefined;
  }

  /** True when the cache knows, without any I/O, that collection `gun` does not exist. */
  knownAbsent(gun: string): boolean {
    return this.state.cache.isAbsent(gun);
  }

  /**
   * The cached file, without any I/O or waiting, when the cache alone can answer exactly what
   * `readPrepared` would; undefined otherwise (a miss, or a latest timestamp that is due for renewal).
   */
  cachedFile(gun: string, role: string, version?: number): PreparedFile | undefined {
    if (this.state.freshVersions && role === 'timestamp' && version === undefined) return undefined;
    return this.cachedFileNow(gun, role, version);
  }

  /**
   * The latest timestamp from the cache once it is known to be the database's latest (on a shared
   * store: `catchUp` first; one query shared by the reads that arrive together); undefined on a miss
   * or when it is due for renewal.
   */
  async cachedLatestTimestamp(gun: string): Promise<PreparedFile | undefined> {
    await this.state.catchUp(gun);
    return this.cachedFileNow(gun, 'timestamp');
  }

  private cachedFileNow(gun: string, role: string, version?: number): PreparedFile | undefined {
    const file = this.state.cache.get(gun, role);
    if (!file) return undefined;
    if (version !== undefined) return file.version === version ? file : undefined;
    if (role === 'timestamp' && !this.renewal.servable(gun)) return undefined;
    return file;
  }

  /** The public half of a collection's online key, created on first request. */
  onlineKey(gun: string, role: ServerKeyRole) {
    return this.state.onlineKeys.publicKey(gun, role);
  }

  /**
   * Verifies and stores a publish, then signs a new snapshot and timestamp (publish-collection.ts).
   * @throws VersionConflictError when the body is based on an older version (409)
   * @throws the errors of verifyPublish (400), NotFoundError for a collection without online keys
   * @param actor the token name recorded in the audit trail
   */
  async publish(gun: string, body: unknown, actor: string, options: { deletePending?: string[] } = {}): Promise<PublishResponse> {
    const started = process.hrtime.bigint();
    const observe = (err?: unknown) => this.onPublish?.(publishOutcome(err), Number(process.hrtime.bigint() - started) / 1e9);
    try {
      const response = await this.state.locks.run(gun, () => publishToCollection(this.state, gun, body, actor, options));
      observe();
      return response;
    } catch (err) {
      observe(err);
      throw err;
    }
  }

  /**
   * Starts a rotation of a server-held key: creates a pending key (replacing an earlier pending one)
   * and returns its public half. The active key keeps signing until a root listing the new key is
   * published.
   * @throws NotFoundError when the collection has no root yet (nothing to rotate)
   */
  rotateOnlineKey(gun: string, role: ServerKeyRole, actor: string): Promise<{ keyId: string; key: TufKey }> {
    return this.state.locks.run(gun, async () => {
      if (!(await this.state.store.getLatest(gun, 'root')) || !(await this.state.store.getServerKey(gun, role))) {
        throw new NotFoundError(`collection ${gun} has no published root, so there is no ${role} key to rotate: initialise it with \`tagtrust init ${gun}\``);
      }
      const replaced = await this.state.store.getPendingServerKey(gun, role);
      const sealed = await this.state.onlineKeys.createPending(gun, role);
      const audit: AuditEntry = { time: this.state.now().toISOString(), actor, action: 'rotate-key', keys: { pending: { [role]: sealed.keyid } } };
      await this.state.store.putPendingServerKey(gun, role, sealed, audit);
      this.state.onlineKeys.changed(gun);
      if (replaced) this.state.onlineKeys.forget(gun, role, replaced.keyid);
      return { keyId: sealed.keyid, key: sealed.public };
    });
  }

  /**
   * Deletes a collection: every metadata version and both online keys. The audit trail keeps the
   * collection's history and records the deletion.
   * @throws NotFoundError when the collection does not exist
   */
  deleteCollection(gun: string, actor: string): Promise<void> {
    return this.state.locks.run(gun, async () => {
      const audit: AuditEntry = { time: this.state.now().toISOString(), actor, action: 'delete' };
      const deleted = await this.state.store.deleteCollection(gun, audit);
      this.state.cache.invalidate(gun);
      this.state.parsedTargets.delete(gun);
      this.state.parsedDelegated.delete(gun);
      if (!deleted) throw new NotFoundError(`collection ${gun} does not exist`);
      this.state.onlineKeys.forgetCollection(gun);
      this.state.timestampExpiry.delete(gun);
      this.state.expiries.delete(gun);
    });
  }

  /** A page of a collection's audit trail, oldest first: records with seq > `after`. */
  async changefeed(gun: string, after: number, limit: number): Promise<ChangefeedPage> {
    const records = await this.state.store.listAudit(gun, after, limit + 1);
    const page: ChangefeedPage = { gun, records: records.slice(0, limit) };
    if (records.length > limit) page.next = records[limit - 1]!.seq;
    return page;
  }

  /** Every collection with each role's latest version, expiry and time left. */
  async listCollections(): Promise<CollectionSummary[]> {
    const now = this.state.now().getTime();
    const summaries: CollectionSummary[] = [];
    for await (const gun of this.state.store.listCollections()) {
      const summary: CollectionSummary = { gun, roles: {} };
      for (const role of ROLES) {
        const latest = await this.state.loadLatest(gun, role);
        if (!latest) continue;
        const { version, expires } = latest.signed;
        summary.roles[role] = { version, expires, remainingMs: Date.parse(expires) - now };
      }
      summaries.push(summary);
    }
    return summaries;
  }

  /**
   * Records the expiry of every collection's top-level roles in `expiries`. Run once at start;
   * publishes and renewals keep it current afterwards.
   */
  async indexExpiries(): Promise<void> {
    for await (const gun of this.state.store.listCollections()) {
      for (const role of ROLES) {
        const latest = await this.state.store.getLatest(gun, role);
        if (latest) this.expiries.setFromText(gun, role, latest.text, true);
      }
    }
  }

  /** Renews the online-signed roles of every collection that is due; returns how many were renewed. */
  renewAll(): Promise<number> {
    return this.renewal.renewAll();
  }

  /** Renews snapshot and/or timestamp of one collection if due. @returns whether anything was written */
  renew(gun: string): Promise<boolean> {
    return this.renewal.renew(gun);
  }
}
