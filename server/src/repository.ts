/**
 * The collections a server hosts: publishing (verify, then sign snapshot and timestamp, then one
 * atomic commit), reads, and renewal of the online-signed roles before they expire.
 *
 * Invariants:
 * - Writes to one collection are serialised (CollectionLocks) and committed atomically.
 * - While the server holds a collection's timestamp key it never serves an expired timestamp:
 *   reads of `timestamp.json` renew it first when it is inside its renewal window.
 * - Snapshot and timestamp are renewed when less than `renewFraction` of their lifetime remains.
 * - Delegated roles in a publish are verified against their delegators (delegations-verify.ts) and
 *   committed in the same atomic write; a publish of an approved pending change deletes it there too.
 */
import { NotFoundError, VersionConflictError, isExpired } from '@tagtrust/shared';
import type { Metadata, PublishResponse, RootSigned, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import { CollectionLocks } from './collection-lock.js';
import type { DelegationAuditSink } from './delegation-audit.js';
import { prepareDelegatedPublish } from './delegated-publish.js';
import { splitPublishBody } from './delegations-verify.js';
import type { OnlineKeys } from './online-keys.js';
import type { OnlineLifetimes } from './online-signing.js';
import { serialise, signSnapshot, signTimestamp } from './online-signing.js';
import { verifyPublish } from './publish-verify.js';
import type { MetadataStore, ServerKeyRole, StoredFile } from './storage/store.js';
import { StaleVersionError } from './storage/store.js';

export interface RepositoryOptions {
  store: MetadataStore;
  onlineKeys: OnlineKeys;
  lifetimes: OnlineLifetimes;
  /** Renew when less than this fraction of a lifetime remains (default 0.5). */
  renewFraction?: number;
  now?: () => Date;
  /** Receives delegation changes (revocations) after they are committed. */
  delegationAudit?: DelegationAuditSink;
}

export class Repository {
  private readonly store: MetadataStore;
  private readonly onlineKeys: OnlineKeys;
  private readonly lifetimes: OnlineLifetimes;
  private readonly renewFraction: number;
  private readonly now: () => Date;
  private readonly delegationAudit?: DelegationAuditSink;
  private readonly locks = new CollectionLocks();
  /** Latest timestamp expiry per collection (ms), so reads can tell cheaply whether to renew. */
  private readonly timestampExpiry = new Map<string, number>();

  constructor(options: RepositoryOptions) {
    this.store = options.store;
    this.onlineKeys = options.onlineKeys;
    this.lifetimes = options.lifetimes;
    this.renewFraction = options.renewFraction ?? 0.5;
    this.now = options.now ?? (() => new Date());
    this.delegationAudit = options.delegationAudit;
  }

  /** A metadata file: the latest, or an exact version. Undefined when it does not exist. */
  async readFile(gun: string, role: string, version?: number): Promise<StoredFile | undefined> {
    if (version !== undefined) return this.store.getVersion(gun, role, version);
    if (role === 'timestamp') await this.renewTimestampIfDue(gun);
    return this.store.getLatest(gun, role);
  }

  /** The public half of a collection's online key, created on first request. */
  onlineKey(gun: string, role: ServerKeyRole) {
    return this.onlineKeys.publicKey(gun, role);
  }

  /**
   * Verifies and stores a publish, then signs a new snapshot and timestamp.
   * @throws VersionConflictError when the body is based on an older version (409)
   * @throws the errors of verifyPublish (400), NotFoundError for a collection without online keys
   */
  publish(gun: string, body: unknown, options: { deletePending?: string[] } = {}): Promise<PublishResponse> {
    return this.locks.run(gun, async () => {
      const now = this.now();
      const [root, targets, snapshot, timestamp] = await Promise.all([
        this.loadLatest<RootSigned>(gun, 'root'),
        this.loadLatest<TargetsSigned>(gun, 'targets'),
        this.loadLatest<SnapshotSigned>(gun, 'snapshot'),
        this.loadLatest<TimestampSigned>(gun, 'timestamp'),
      ]);
      const [snapshotKey, timestampKey] = await Promise.all([
        this.onlineKeys.signer(gun, 'snapshot'),
        this.onlineKeys.signer(gun, 'timestamp'),
      ]);
      const { topLevel, delegated } = splitPublishBody(body);
      const onlyDelegated = delegated.size > 0 && Object.keys(topLevel).length === 0;
      if (onlyDelegated && (!root || !targets)) throw new NotFoundError(`collection ${gun} has no root yet: initialise it before delegating`);
      const verified = onlyDelegated
        ? { root: root!, newRoot: undefined, newTargets: undefined }
        : verifyPublish(topLevel, { gun, root, targets, onlineKeyIds: { snapshot: snapshotKey?.keyId, timestamp: timestampKey?.keyId } }, now);
      const delegatedChange = await prepareDelegatedPublish(this.store, gun, delegated, targets, verified.newTargets ?? targets!, now);
      if (!snapshotKey || !timestampKey) {
        throw new NotFoundError(`collection ${gun} has no online keys: fetch snapshot.key and timestamp.key first`);
      }
      const files: StoredFile[] = [];
      if (verified.newRoot) files.push({ role: 'root', version: verified.newRoot.signed.version, text: serialise(verified.newRoot) });
      const changedTargets: StoredFile[] = [];
      if (verified.newTargets) {
        changedTargets.push({ role: 'targets', version: verified.newTargets.signed.version, text: serialise(verified.newTargets) });
      }
      changedTargets.push(...delegatedChange.files);
      const newSnapshot = signSnapshot(snapshot?.signed, changedTargets, snapshotKey, now, this.lifetimes.snapshot);
      const newTimestamp = signTimestamp(timestamp?.signed.version ?? 0, newSnapshot, timestampKey, now, this.lifetimes.timestamp);
      files.push(...changedTargets, newSnapshot, newTimestamp);
      await this.commit(gun, files, {
        root: root?.signed.version ?? 0,
        targets: targets?.signed.version ?? 0,
        snapshot: snapshot?.signed.version ?? 0,
        timestamp: timestamp?.signed.version ?? 0,
        ...delegatedChange.expectedLatest,
      }, options.deletePending);
      this.timestampExpiry.set(gun, now.getTime() + this.lifetimes.timestamp);
      for (const event of delegatedChange.events) await this.delegationAudit?.recordDelegationChange(event);
      return { gun, versions: Object.fromEntries(files.map((f) => [f.role, f.version])) };
    });
  }

  /** Renews the online-signed roles of every collection that is due; returns how many were renewed. */
  async renewAll(): Promise<number> {
    let renewed = 0;
    for await (const gun of this.store.listCollections()) {
      if (await this.renew(gun)) renewed += 1;
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
      if (!timestampDue) {
        this.timestampExpiry.set(gun, Date.parse(timestamp.signed.expires));
        return false;
      }
      const [snapshotKey, timestampKey] = await Promise.all([
        this.onlineKeys.signer(gun, 'snapshot'),
        this.onlineKeys.signer(gun, 'timestamp'),
      ]);
      if (!snapshotKey || !timestampKey) return false;
      const files: StoredFile[] = [];
      const listedSnapshot = snapshotDue ? signSnapshot(snapshot.signed, [], snapshotKey, now, this.lifetimes.snapshot) : snapshotFile;
      if (snapshotDue) files.push(listedSnapshot);
      files.push(signTimestamp(timestamp.signed.version, listedSnapshot, timestampKey, now, this.lifetimes.timestamp));
      await this.commit(gun, files, { snapshot: snapshot.signed.version, timestamp: timestamp.signed.version });
      this.timestampExpiry.set(gun, now.getTime() + this.lifetimes.timestamp);
      return true;
    });
  }

  private async renewTimestampIfDue(gun: string): Promise<void> {
    const expiry = this.timestampExpiry.get(gun);
    const renewAt = expiry === undefined ? undefined : expiry - this.lifetimes.timestamp * this.renewFraction;
    if (renewAt === undefined || this.now().getTime() >= renewAt) await this.renew(gun);
  }

  private isDue(signed: SnapshotSigned | TimestampSigned, role: 'snapshot' | 'timestamp', now: Date): boolean {
    const remaining = Date.parse(signed.expires) - now.getTime();
    return isExpired(signed, now) || remaining < this.lifetimes[role] * this.renewFraction;
  }

  private async loadLatest<T extends Metadata['signed']>(gun: string, role: string): Promise<Metadata<T> | undefined> {
    const file = await this.store.getLatest(gun, role);
    return file === undefined ? undefined : (JSON.parse(file.text) as Metadata<T>);
  }

  private async commit(gun: string, files: StoredFile[], expectedLatest: Record<string, number>, deletePending?: string[]): Promise<void> {
    try {
      await this.store.commit({ gun, files, expectedLatest, ...(deletePending ? { deletePending } : {}) });
    } catch (err) {
      if (err instanceof StaleVersionError) {
        throw new VersionConflictError(err.role, err.latest, `${err.role} changed while publishing (now v${err.latest}): fetch the latest and retry`, { cause: err });
      }
      throw err;
    }
  }
}
