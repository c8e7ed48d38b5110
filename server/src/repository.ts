/**
 * The collections a server hosts: publishing (verify, then sign snapshot and timestamp, then one
 * atomic commit), reads, and renewal of the online-signed roles before they expire.
 *
 * Invariants:
 * - Writes to one collection are serialised (CollectionLocks) and committed atomically.
 * - While the server holds a collection's timestamp key it never serves an expired timestamp:
 *   reads of `timestamp.json` renew it first when it is inside its renewal window. When that renewal
 *   fails (e.g. the disk is full), the stored timestamp is served as long as it has not expired, the
 *   renewal is retried after a back-off, and the failure is logged and reported (renewal-failures.ts).
 *   An expired timestamp is never served: that read fails with 503 and the reason.
 * - Snapshot and timestamp are renewed when less than `renewFraction` of their lifetime remains.
 * - Every accepted change (publish, key rotation request, deletion) is recorded in the audit trail
 *   in the same atomic write as the change itself. Renewals are not changes and are not recorded.
 * - Online-key rotation: `rotateOnlineKey` stores a pending key; the active key keeps signing until a
 *   publish commits a root that lists the pending key. That commit activates the pending key and
 *   deletes the old one atomically, and its snapshot/timestamp carry signatures by both keys, so
 *   clients in the middle of an update under the old root still accept them. Afterwards only the
 *   new key signs.
 * - Delegated roles in a publish are verified against their delegators (delegations-verify.ts) and
 *   committed in the same atomic write; a publish of an approved pending change deletes it there too.
 * - Reads go through an in-memory cache of the latest files (read-cache.ts), which every commit
 *   replaces synchronously right after the store has the change.
 * - On a store shared with other replicas (replication/shared-store.ts), reads of the latest
 *   timestamp and publishes first check the database's latest versions and drop what this process
 *   remembers of the collection if it moved on (`catchUp`); versions newer than the cached latest
 *   are looked up in the store, and no collection is remembered as absent.
 */
import { InvalidInputError, NotFoundError, ServerError, TOP_LEVEL_ROLES, VersionConflictError, isExpired } from '@tagtrust/shared';
import type { Metadata, PublishResponse, RootSigned, SnapshotSigned, TargetsSigned, TimestampSigned, TufKey } from '@tagtrust/shared';
import type { KeyPair } from '@tagtrust/keys';
import { publishTagChanges, rootKeyChanges } from './audit.js';
import { CollectionLocks } from './collection-lock.js';
import { prepareDelegatedPublish } from './delegated-publish.js';
import { splitPublishBody } from './delegations-verify.js';
import { ParsedTargetsCache } from './parsed-targets.js';
import type { ParsedTargets } from './parsed-targets.js';
import { PreparedFile, ReadCache } from './read-cache.js';
import type { OnlineKeys } from './online-keys.js';
import type { OnlineLifetimes } from './online-signing.js';
import { serialise, signSnapshot, signTimestamp } from './online-signing.js';
import { verifyPublish } from './publish-verify.js';
import { preparePublishLog } from './tag-log/publish-log.js';
import { TagLog } from './tag-log/tag-log.js';
import { ExpiryIndex } from './metrics/expiry-index.js';
import { publishOutcome } from './metrics/metrics.js';
import type { PublishOutcome } from './metrics/metrics.js';
import { RenewalFailures } from './renewal-failures.js';
import type { RenewalHealth } from './renewal-failures.js';
import type { AuditEntry, AuditRecord, LogAppend, MetadataStore, ServerKeyRole, StoredFile } from './storage/store.js';
import { StaleKeyError, StaleVersionError } from './storage/store.js';
import { FreshVersions } from './replication/fresh-versions.js';
import { isSharedStore } from './replication/shared-store.js';

const SERVER_ROLES: ServerKeyRole[] = ['snapshot', 'timestamp'];
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
  private readonly onPublish: RepositoryOptions['onPublish'];
  private readonly store: MetadataStore;
  private readonly onlineKeys: OnlineKeys;
  private readonly lifetimes: OnlineLifetimes;
  private readonly renewFraction: number;
  private readonly now: () => Date;
  private readonly locks = new CollectionLocks();
  /** Latest timestamp expiry per collection (ms), so reads can tell cheaply whether to renew. */
  private readonly timestampExpiry = new Map<string, number>();
  private readonly cache: ReadCache;
  /** The latest targets parsed, with their canonical form, for the next publish. */
  private readonly parsedTargets = new ParsedTargetsCache();
  /** The same for delegated roles and hashed bins (their own budget: bins do not push out targets). */
  private readonly parsedDelegated = new ParsedTargetsCache(4 * 1024 * 1024);
  /** The collections' tag transparency logs (tag-log/). */
  readonly tagLog: TagLog;
  private readonly renewalFailures: RenewalFailures;
  /** Set when other replicas write to the same store. */
  private readonly freshVersions: FreshVersions | undefined;

  constructor(options: RepositoryOptions) {
    this.store = options.store;
    this.onlineKeys = options.onlineKeys;
    this.lifetimes = options.lifetimes;
    this.renewFraction = options.renewFraction ?? 0.5;
    this.now = options.now ?? (() => new Date());
    this.cache = new ReadCache({ maxBytes: options.readCacheBytes });
    this.tagLog = new TagLog(options.store);
    this.onPublish = options.onPublish;
    this.expiries = options.expiries ?? new ExpiryIndex();
    this.renewalFailures = new RenewalFailures(options.log ?? ((line) => process.stderr.write(`${line}\n`)));
    const store = options.store;
    this.freshVersions = isSharedStore(store) ? new FreshVersions((gun) => store.latestVersions(gun)) : undefined;
  }

  /** Collections whose renewal keeps failing (for /healthz and /readyz). */
  renewalHealth(): RenewalHealth {
    return this.renewalFailures.health();
  }

  /**
   * Another writer changed `gun` (a notice from the shared store): forgets its keys, and the rest of
   * what this process remembers of it when its versions moved (this process's own commits did not).
   */
  collectionChanged(gun: string): Promise<void> {
    this.onlineKeys.changed(gun);
    return this.catchUp(gun);
  }

  /** Drops everything remembered about `gun`; the store stays the truth. */
  private forgetCollectionState(gun: string): void {
    this.cache.invalidate(gun);
    this.tagLog.forget(gun);
    this.onlineKeys.changed(gun);
    this.timestampExpiry.delete(gun);
  }

  /** Drops everything remembered about every collection (changes by other replicas may have been missed). */
  forgetAllState(): void {
    this.cache.invalidateAll();
    this.tagLog.forgetAll();
    this.onlineKeys.changedAll();
    this.timestampExpiry.clear();
  }

  /** On a shared store: forgets `gun` if the database's latest versions are not the ones remembered. */
  private async catchUp(gun: string): Promise<void> {
    if (!this.freshVersions) return;
    const stored = await this.freshVersions.get(gun);
    const cached = this.cache.versions(gun);
    const moved = [...stored].some(([role, version]) => cached.has(role) && cached.get(role) !== version) || [...cached.keys()].some((role) => !stored.has(role));
    if (moved) this.forgetCollectionState(gun);
  }

  /**
   * A metadata file ready to send: the latest, or an exact version. Undefined when it does not exist.
   * The latest timestamp is renewed first when it is due (never serve an expired timestamp).
   */
  async readPrepared(gun: string, role: string, version?: number): Promise<PreparedFile | undefined> {
    if (this.cache.isAbsent(gun)) return undefined;
    if (version === undefined && role === 'timestamp') await this.catchUp(gun);
    const ticket = this.cache.ticket();
    if (version === undefined && role === 'timestamp') await this.renewTimestampIfDue(gun);
    const latest = this.cache.get(gun, role) ?? (await this.loadLatestPrepared(gun, role));
    // Every collection has all four top-level roles from its first commit on.
    if (!latest && !this.freshVersions && (TOP_LEVEL_ROLES as readonly string[]).includes(role)) this.cache.markAbsent(gun, ticket);
    if (version === undefined || latest?.version === version) return latest;
    // No version newer than the latest exists (e.g. the client's probe for the next root); with
    // replicas, another one may have committed it since this one cached its latest.
    if (!this.freshVersions && (!latest || version > latest.version)) return undefined;
    // Older versions are immutable and rarely read: straight from the store, not cached.
    const stored = await this.store.getVersion(gun, role, version);
    return stored && new PreparedFile(stored);
  }

  /** True on a store shared with other replicas: the latest timestamp is served only after `catchUp`. */
  get checksLatest(): boolean {
    return this.freshVersions !== undefined;
  }

  /** True when the cache knows, without any I/O, that collection `gun` does not exist. */
  knownAbsent(gun: string): boolean {
    return this.cache.isAbsent(gun);
  }

  /**
   * The cached file, without any I/O or waiting, when the cache alone can answer exactly what
   * `readPrepared` would; undefined otherwise (a miss, or a latest timestamp that is due for renewal).
   */
  cachedFile(gun: string, role: string, version?: number): PreparedFile | undefined {
    if (this.freshVersions && role === 'timestamp' && version === undefined) return undefined;
    return this.cachedFileNow(gun, role, version);
  }

  /**
   * The latest timestamp from the cache once it is known to be the database's latest (on a shared
   * store: `catchUp` first; one query shared by the reads that arrive together); undefined on a miss
   * or when it is due for renewal.
   */
  async cachedLatestTimestamp(gun: string): Promise<PreparedFile | undefined> {
    await this.catchUp(gun);
    return this.cachedFileNow(gun, 'timestamp');
  }

  private cachedFileNow(gun: string, role: string, version?: number): PreparedFile | undefined {
    const file = this.cache.get(gun, role);
    if (!file) return undefined;
    if (version !== undefined) return file.version === version ? file : undefined;
    if (role === 'timestamp' && this.timestampRenewalDue(gun) && !this.servingDespiteFailedRenewal(gun)) return undefined;
    return file;
  }

  private async loadLatestPrepared(gun: string, role: string): Promise<PreparedFile | undefined> {
    const ticket = this.cache.ticket();
    const stored = await this.store.getLatest(gun, role);
    if (!stored) return undefined;
    const prepared = new PreparedFile(stored);
    this.cache.fill(gun, prepared, ticket);
    return prepared;
  }

  /** The public half of a collection's online key, created on first request. */
  onlineKey(gun: string, role: ServerKeyRole) {
    return this.onlineKeys.publicKey(gun, role);
  }

  /**
   * Verifies and stores a publish, then signs a new snapshot and timestamp.
   * @throws VersionConflictError when the body is based on an older version (409)
   * @throws the errors of verifyPublish (400), NotFoundError for a collection without online keys
   * @param actor the token name recorded in the audit trail
   */
  async publish(gun: string, body: unknown, actor: string, options: { deletePending?: string[] } = {}): Promise<PublishResponse> {
    const started = process.hrtime.bigint();
    const observe = (err?: unknown) => this.onPublish?.(publishOutcome(err), Number(process.hrtime.bigint() - started) / 1e9);
    try {
      const response = await this.publishLocked(gun, body, actor, options);
      observe();
      return response;
    } catch (err) {
      observe(err);
      throw err;
    }
  }

  private publishLocked(gun: string, body: unknown, actor: string, options: { deletePending?: string[] }): Promise<PublishResponse> {
    return this.locks.run(gun, async () => {
      if (this.freshVersions) {
        // Another replica may have published, or started a key rotation, since this one last looked.
        await this.catchUp(gun);
        this.onlineKeys.changed(gun);
      }
      const now = this.now();
      const [root, currentTargets, snapshot, timestamp] = await Promise.all([
        this.loadLatest<RootSigned>(gun, 'root'),
        this.loadLatestTargets(gun),
        this.loadLatest<SnapshotSigned>(gun, 'snapshot'),
        this.loadLatest<TimestampSigned>(gun, 'timestamp'),
      ]);
      const targets = currentTargets?.metadata;
      const [snapshotKey, timestampKey, pendingSnapshot, pendingTimestamp] = await Promise.all([
        this.onlineKeys.signer(gun, 'snapshot'),
        this.onlineKeys.signer(gun, 'timestamp'),
        this.onlineKeys.pendingSigner(gun, 'snapshot'),
        this.onlineKeys.pendingSigner(gun, 'timestamp'),
      ]);
      const { topLevel, delegated } = splitPublishBody(body);
      const onlyDelegated = delegated.size > 0 && Object.keys(topLevel).length === 0;
      if (onlyDelegated && (!root || !targets)) throw new NotFoundError(`collection ${gun} has no root yet: initialise it before delegating`);
      const verified = onlyDelegated
        ? { root: root!, newRoot: undefined, newTargets: undefined }
        : verifyPublish(
            topLevel,
            {
              gun,
              root,
              targets,
              targetsCanonical: currentTargets?.canonical,
              onlineKeyIds: { snapshot: snapshotKey?.keyId, timestamp: timestampKey?.keyId },
              pendingKeyIds: { snapshot: pendingSnapshot?.keyId, timestamp: pendingTimestamp?.keyId },
            },
            now,
          );
      const delegatedChange = await prepareDelegatedPublish((role) => this.loadLatestParsed(gun, role, this.parsedDelegated), gun, delegated, targets, verified.newTargets ?? targets!, now);
      if (!snapshotKey || !timestampKey) {
        throw new NotFoundError(`collection ${gun} has no online keys: fetch snapshot.key and timestamp.key first`);
      }
      // A new root listing a pending key switches the role to it; that one publish is signed by both.
      const active = { snapshot: snapshotKey, timestamp: timestampKey };
      const pending = { snapshot: pendingSnapshot, timestamp: pendingTimestamp };
      const activateKeys: Partial<Record<ServerKeyRole, string>> = {};
      const signers: Record<ServerKeyRole, KeyPair[]> = { snapshot: [snapshotKey], timestamp: [timestampKey] };
      for (const role of SERVER_ROLES) {
        const next = pending[role];
        if (verified.newRoot && next && verified.newRoot.signed.roles[role].keyids.includes(next.keyId)) {
          activateKeys[role] = next.keyId;
          signers[role] = [next, active[role]];
        }
      }
      const files: StoredFile[] = [];
      if (verified.newRoot) files.push({ role: 'root', version: verified.newRoot.signed.version, text: serialise(verified.newRoot) });
      const changedTargets: StoredFile[] = [];
      if (verified.newTargets) {
        changedTargets.push({ role: 'targets', version: verified.newTargets.signed.version, text: serialise(verified.newTargets) });
      }
      changedTargets.push(...delegatedChange.files);
      const log = await preparePublishLog(this.tagLog, this.store, {
        gun,
        actor,
        now,
        targetsBefore: targets?.signed,
        targetsAfter: verified.newTargets?.signed ?? targets?.signed,
        root: verified.root.signed,
        roles: [
          ...(verified.newTargets ? [{ role: 'targets', before: targets?.signed, after: verified.newTargets.signed }] : []),
          ...delegatedChange.verified.map(({ role, metadata, before }) => ({ role, before, after: metadata.signed })),
        ],
      });
      const newSnapshot = signSnapshot(snapshot?.signed, changedTargets, signers.snapshot, now, this.lifetimes.snapshot);
      const newTimestamp = signTimestamp(timestamp?.signed.version ?? 0, newSnapshot, signers.timestamp, now, this.lifetimes.timestamp, log.head);
      files.push(...changedTargets, newSnapshot, newTimestamp);
      const versions = Object.fromEntries(files.map((f) => [f.role, f.version]));
      const audit: AuditEntry = { time: now.toISOString(), actor, action: 'publish', versions };
      const tags = publishTagChanges(gun, {
        targetsBefore: targets?.signed,
        ...(verified.newTargets ? { targets: { role: 'targets', before: targets?.signed, after: verified.newTargets.signed, signedBy: verified.newTargetsSignedBy ?? [] } } : {}),
        bins: delegatedChange.bins,
        delegated: delegatedChange.roles,
      });
      if (tags && (tags.length > 0 || verified.newTargets)) audit.tags = tags;
      const keyChanges = verified.newRoot && rootKeyChanges(root?.signed, verified.newRoot.signed);
      if (keyChanges) audit.rootKeyChanges = keyChanges;
      if (Object.keys(activateKeys).length > 0) audit.keys = { activated: activateKeys };
      if (delegatedChange.events.length > 0) audit.delegations = delegatedChange.events;
      if (log.policy) audit.policy = log.policy;
      await this.commit(gun, files, {
        root: root?.signed.version ?? 0,
        targets: targets?.signed.version ?? 0,
        snapshot: snapshot?.signed.version ?? 0,
        timestamp: timestamp?.signed.version ?? 0,
        ...delegatedChange.expectedLatest,
      }, { audit, activateKeys, ...(options.deletePending ? { deletePending: options.deletePending } : {}), ...(log.append ? { log: log.append } : {}) });
      this.tagLog.committed(gun, log);
      if (verified.newTargets) {
        // The next publish starts from these targets: keep the verified object instead of parsing them again.
        const file = this.cache.get(gun, 'targets');
        if (file?.version === verified.newTargets.signed.version) {
          this.parsedTargets.set(gun, file, { metadata: verified.newTargets, canonical: verified.newTargetsCanonical });
        }
      }
      for (const { role, metadata, canonical } of delegatedChange.verified) {
        const file = this.cache.get(gun, role);
        if (file?.version === metadata.signed.version) this.parsedDelegated.set(gun, file, { metadata, canonical });
      }
      if (Object.keys(activateKeys).length > 0) this.onlineKeys.changed(gun);
      for (const role of Object.keys(activateKeys) as ServerKeyRole[]) this.onlineKeys.forget(gun, role, active[role].keyId);
      this.timestampExpiry.set(gun, now.getTime() + this.lifetimes.timestamp);
      if (verified.newRoot) this.expiries.set(gun, 'root', Date.parse(verified.newRoot.signed.expires));
      if (verified.newTargets) this.expiries.set(gun, 'targets', Date.parse(verified.newTargets.signed.expires));
      this.expiries.setFromText(gun, 'snapshot', newSnapshot.text);
      this.expiries.setFromText(gun, 'timestamp', newTimestamp.text);
      return { gun, versions };
    });
  }

  /**
   * Starts a rotation of a server-held key: creates a pending key (replacing an earlier pending one)
   * and returns its public half. The active key keeps signing until a root listing the new key is
   * published.
   * @throws NotFoundError when the collection has no root yet (nothing to rotate)
   */
  rotateOnlineKey(gun: string, role: ServerKeyRole, actor: string): Promise<{ keyId: string; key: TufKey }> {
    return this.locks.run(gun, async () => {
      if (!(await this.store.getLatest(gun, 'root')) || !(await this.store.getServerKey(gun, role))) {
        throw new NotFoundError(`collection ${gun} has no published root, so there is no ${role} key to rotate: initialise it with \`tagtrust init ${gun}\``);
      }
      const replaced = await this.store.getPendingServerKey(gun, role);
      const sealed = await this.onlineKeys.createPending(gun, role);
      const audit: AuditEntry = { time: this.now().toISOString(), actor, action: 'rotate-key', keys: { pending: { [role]: sealed.keyid } } };
      await this.store.putPendingServerKey(gun, role, sealed, audit);
      this.onlineKeys.changed(gun);
      if (replaced) this.onlineKeys.forget(gun, role, replaced.keyid);
      return { keyId: sealed.keyid, key: sealed.public };
    });
  }

  /**
   * Deletes a collection: every metadata version and both online keys. The audit trail keeps the
   * collection's history and records the deletion.
   * @throws NotFoundError when the collection does not exist
   */
  deleteCollection(gun: string, actor: string): Promise<void> {
    return this.locks.run(gun, async () => {
      const audit: AuditEntry = { time: this.now().toISOString(), actor, action: 'delete' };
      const deleted = await this.store.deleteCollection(gun, audit);
      this.cache.invalidate(gun);
      this.parsedTargets.delete(gun);
      this.parsedDelegated.delete(gun);
      if (!deleted) throw new NotFoundError(`collection ${gun} does not exist`);
      this.onlineKeys.forgetCollection(gun);
      this.timestampExpiry.delete(gun);
      this.expiries.delete(gun);
    });
  }

  /** A page of a collection's audit trail, oldest first: records with seq > `after`. */
  async changefeed(gun: string, after: number, limit: number): Promise<ChangefeedPage> {
    const records = await this.store.listAudit(gun, after, limit + 1);
    const page: ChangefeedPage = { gun, records: records.slice(0, limit) };
    if (records.length > limit) page.next = records[limit - 1]!.seq;
    return page;
  }

  /** Every collection with each role's latest version, expiry and time left. */
  async listCollections(): Promise<CollectionSummary[]> {
    const now = this.now().getTime();
    const summaries: CollectionSummary[] = [];
    for await (const gun of this.store.listCollections()) {
      const summary: CollectionSummary = { gun, roles: {} };
      for (const role of ROLES) {
        const latest = await this.loadLatest(gun, role);
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
    for await (const gun of this.store.listCollections()) {
      for (const role of ROLES) {
        const latest = await this.store.getLatest(gun, role);
        if (latest) this.expiries.setFromText(gun, role, latest.text, true);
      }
    }
  }

  /**
   * Renews the online-signed roles of every collection that is due; returns how many were renewed.
   * A collection whose renewal fails is recorded (renewalHealth) and the others are still renewed.
   */
  async renewAll(): Promise<number> {
    let renewed = 0;
    for await (const gun of this.store.listCollections()) {
      try {
        if (await this.renew(gun)) renewed += 1;
        this.renewalFailures.succeeded(gun);
      } catch (err) {
        this.renewalFailures.failed(gun, err, this.now());
      }
    }
    return renewed;
  }

  /** Renews snapshot and/or timestamp of one collection if due. @returns whether anything was written */
  renew(gun: string): Promise<boolean> {
    return this.locks.run(gun, async () => {
      const now = this.now();
      const [snapshotFile, timestamp] = await Promise.all([
        this.store.getLatest(gun, 'snapshot'),
        this.loadLatest<TimestampSigned>(gun, 'timestamp'),
      ]);
      if (!snapshotFile || !timestamp) return false;
      const snapshot = JSON.parse(snapshotFile.text) as Metadata<SnapshotSigned>;
      const snapshotDue = this.isDue(snapshot.signed, 'snapshot', now);
      const timestampDue = snapshotDue || this.isDue(timestamp.signed, 'timestamp', now);
      this.expiries.set(gun, 'snapshot', Date.parse(snapshot.signed.expires));
      this.expiries.set(gun, 'timestamp', Date.parse(timestamp.signed.expires));
      // Known before writing: a read can serve the stored timestamp if the renewal below fails.
      this.timestampExpiry.set(gun, Date.parse(timestamp.signed.expires));
      if (!timestampDue) return false;
      const [snapshotKey, timestampKey] = await Promise.all([
        this.onlineKeys.signer(gun, 'snapshot'),
        this.onlineKeys.signer(gun, 'timestamp'),
      ]);
      if (!snapshotKey || !timestampKey) return false;
      const files: StoredFile[] = [];
      const listedSnapshot = snapshotDue ? signSnapshot(snapshot.signed, [], [snapshotKey], now, this.lifetimes.snapshot) : snapshotFile;
      if (snapshotDue) files.push(listedSnapshot);
      files.push(signTimestamp(timestamp.signed.version, listedSnapshot, [timestampKey], now, this.lifetimes.timestamp, timestamp.signed['x-tagtrust-log']));
      try {
        await this.commit(gun, files, { snapshot: snapshot.signed.version, timestamp: timestamp.signed.version });
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
        // Another replica renewed or published first: its files stand, and are served from the store.
        this.timestampExpiry.delete(gun);
        return false;
      }
      this.timestampExpiry.set(gun, now.getTime() + this.lifetimes.timestamp);
      for (const file of files) this.expiries.setFromText(gun, file.role, file.text);
      return true;
    });
  }

  /**
   * Renews before a read of timestamp.json when due. A failed renewal does not fail the read while the
   * stored timestamp is still valid; it is retried after a back-off.
   * @throws ServerError (503) when the renewal failed and the stored timestamp has expired
   */
  private async renewTimestampIfDue(gun: string): Promise<void> {
    if (!this.timestampRenewalDue(gun) || this.servingDespiteFailedRenewal(gun)) return;
    try {
      await this.renew(gun);
      this.renewalFailures.succeeded(gun);
    } catch (err) {
      this.renewalFailures.failed(gun, err, this.now());
      const expiry = this.timestampExpiry.get(gun);
      if (expiry === undefined || this.now().getTime() >= expiry) {
        throw new ServerError(`the timestamp of ${gun} has expired and the server cannot renew it (${(err as Error).message}); tell the operator`, { cause: err });
      }
    }
  }

  /** True while a failed renewal backs off and the stored timestamp has not expired: serve it as is. */
  private servingDespiteFailedRenewal(gun: string): boolean {
    const now = this.now();
    const expiry = this.timestampExpiry.get(gun);
    return expiry !== undefined && now.getTime() < expiry && this.renewalFailures.backingOff(gun, now);
  }

  /** True when the timestamp must be renewed (or its expiry is not known yet) before serving it. */
  private timestampRenewalDue(gun: string): boolean {
    const expiry = this.timestampExpiry.get(gun);
    return expiry === undefined || this.now().getTime() >= expiry - this.lifetimes.timestamp * this.renewFraction;
  }

  private isDue(signed: SnapshotSigned | TimestampSigned, role: 'snapshot' | 'timestamp', now: Date): boolean {
    const remaining = Date.parse(signed.expires) - now.getTime();
    return isExpired(signed, now) || remaining < this.lifetimes[role] * this.renewFraction;
  }

  /** The latest version of a role, parsed; from the read cache when it holds it (no renewal here). */
  private async loadLatest<T extends Metadata['signed']>(gun: string, role: string): Promise<Metadata<T> | undefined> {
    const file = this.cache.get(gun, role) ?? (await this.loadLatestPrepared(gun, role));
    return file === undefined ? undefined : (JSON.parse(file.body.toString('utf8')) as Metadata<T>);
  }

  /** The latest top-level targets, parsed (shared: do not modify), from the read cache when it holds them. */
  private loadLatestTargets(gun: string): Promise<ParsedTargets | undefined> {
    return this.loadLatestParsed(gun, 'targets', this.parsedTargets);
  }

  /** The latest version of a targets role, parsed (shared: do not modify), from the read cache when it holds it. */
  private async loadLatestParsed(gun: string, role: string, parsed: ParsedTargetsCache): Promise<ParsedTargets | undefined> {
    const file = this.cache.get(gun, role) ?? (await this.loadLatestPrepared(gun, role));
    return file === undefined ? undefined : parsed.get(gun, file);
  }

  private async commit(
    gun: string,
    files: StoredFile[],
    expectedLatest: Record<string, number>,
    extra: { audit?: AuditEntry; activateKeys?: Partial<Record<ServerKeyRole, string>>; deletePending?: string[]; log?: LogAppend } = {},
  ): Promise<void> {
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
