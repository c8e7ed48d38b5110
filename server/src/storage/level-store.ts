/**
 * MetadataStore on an embedded level database (classic-level). Layout, one sublevel each:
 * - `files`:   `<gun>\0<role>\0<version, 12 digits>` -> exact metadata text
 * - `latest`:  `<gun>\0<role>` -> latest version (decimal text)
 * - `keys`:    `<gun>\0<role>` -> sealed server key JSON (active)
 * - `pending`: `<gun>\0<role>` -> sealed server key JSON (pending rotation)
 * - `collections`: `<gun>` -> ISO time of the first publish
 * - `audit`:   `<gun>\0<seq, 12 digits>` -> audit record JSON (append-only)
 * - the token table: `tokens`, `tokenHashes`, `tokenUse` (level-tokens.ts; token changes go to the
 *   audit trail under the empty GUN: `\0<seq>`)
 * - `staged`:  `<gun>\0<id>` -> pending change JSON (staging area for threshold signing)
 * - the tag transparency logs: `logLeaves`, `logNodes`, `logTags` (level-tag-log.ts)
 * Writes of one change go into a single batch across sublevels, which level applies atomically, and
 * every write is synced to the disk before it returns; after a failed write the database is reopened
 * before anything else is written (durable-level.ts).
 * Writes that read before writing (audit sequence numbers, token names, key creation) run one at a
 * time per collection (per token table) through `exclusive`, so two writers in this process cannot
 * interleave between read and write; different collections still commit concurrently.
 * Level locks the directory to one open instance, and every write goes through it: the latest
 * versions and audit sequence numbers it has read or written are kept in memory, so a commit
 * normally reads nothing before its one batch write (reads on the main thread can block for tens of
 * ms behind leveldb's lock on a loaded machine; measured with bench/publish-server.mjs).
 */
import type { SealedKey } from '@tagtrust/keys';
import type { AuditEntry, AuditRecord, Change, MetadataStore, ServerKeyRole, StoredFile, TokenRecord } from './store.js';
import { SERVER_AUDIT, StaleKeyError, StaleVersionError } from './store.js';
import { CollectionLocks } from '../collection-lock.js';
import { setBounded } from '../bounded-map.js';
import { DurableLevel } from './durable-level.js';
import { LevelTagLog } from './level-tag-log.js';
import { LevelTokens } from './level-tokens.js';
import type { DurableLevelOptions, StorageHealth, Sublevel, WriteOp } from './durable-level.js';

const SEP = '\u0000';
const MAX_REMEMBERED_LATEST = 200_000;
const pad = (n: number) => String(n).padStart(12, '0');
const fileKey = (gun: string, role: string, version: number) => `${gun}${SEP}${role}${SEP}${pad(version)}`;
const roleKey = (gun: string, role: string) => `${gun}${SEP}${role}`;
const auditKey = (gun: string, seq: number) => `${gun}${SEP}${pad(seq)}`;
/** Range options covering every key of one collection in a sublevel. */
const collectionRange = (gun: string) => ({ gt: `${gun}${SEP}`, lt: `${gun}${SEP}\uffff` });
/** Lock scope of the token table (no GUN contains NUL). */
const TOKENS = '\u0000tokens';
const SERVER_ROLES: ServerKeyRole[] = ['snapshot', 'timestamp'];


export class LevelStore implements MetadataStore {
  private readonly durable: DurableLevel;
  private readonly files;
  private readonly latest;
  private readonly keys;
  private readonly pending;
  private readonly collections;
  private readonly staged;
  private readonly audit;
  private readonly tokens: LevelTokens;
  private readonly tagLog: LevelTagLog;
  private readonly locks = new CollectionLocks();
  /** `<gun>\0<role>` -> latest version (0: none), as committed through this instance (see `rememberLatest`). */
  private readonly latestVersions = new Map<string, number>();
  /** Last audit sequence number per collection written by this instance (see `write`). */
  private readonly lastAuditSeq = new Map<string, number>();

  private constructor(durable: DurableLevel) {
    this.durable = durable;
    const sub = (name: string) => durable.sublevel(name);
    this.files = sub('files');
    this.latest = sub('latest');
    this.keys = sub('keys');
    this.pending = sub('pending');
    this.collections = sub('collections');
    this.staged = sub('staged');
    this.audit = sub('audit');
    this.tokens = new LevelTokens({
      durable,
      exclusive: (task) => this.exclusive(TOKENS, task),
      writeAudited: (batch, audit) => this.write(batch, SERVER_AUDIT, audit),
    });
    this.tagLog = new LevelTagLog(durable);
  }

  /**
   * Opens (creating if needed) the database at `location`.
   * @throws StorageUnavailableError saying why the disk refused (e.g. no space left on device)
   */
  static async open(location: string, options: Pick<DurableLevelOptions, 'log' | 'reopenIntervalMs'> = {}): Promise<LevelStore> {
    let store: LevelStore | undefined;
    const durable = await DurableLevel.open(location, { ...options, onReopen: () => store?.forgetAll() });
    store = new LevelStore(durable);
    return store;
  }

  /** Whether writes are accepted, and why not. */
  health(): StorageHealth {
    return this.durable.health();
  }

  async getLatest(gun: string, role: string): Promise<StoredFile | undefined> {
    const version = await this.latestVersion(gun, role);
    return version === 0 ? undefined : this.getVersion(gun, role, version);
  }

  async getVersion(gun: string, role: string, version: number): Promise<StoredFile | undefined> {
    const text = await this.files.get(fileKey(gun, role, version));
    return text === undefined ? undefined : { role, version, text };
  }

  commit(change: Change): Promise<void> {
    return this.exclusive(change.gun, async () => {
      const expected = Object.entries(change.expectedLatest);
      const current = new Map<string, number>();
      for (const [role] of expected) {
        const known = this.latestVersions.get(roleKey(change.gun, role));
        if (known !== undefined) current.set(role, known);
      }
      // Latest versions not known yet: one read for all of them (one trip to level's thread pool).
      const unknown = expected.map(([role]) => role).filter((role) => !current.has(role));
      if (unknown.length > 0) {
        const read = await this.latest.getMany(unknown.map((role) => roleKey(change.gun, role)));
        unknown.forEach((role, i) => {
          current.set(role, read[i] === undefined ? 0 : Number(read[i]));
          this.rememberLatest(roleKey(change.gun, role), current.get(role)!);
        });
      }
      for (const [role, version] of expected) {
        if (current.get(role) !== version) throw new StaleVersionError(role, version, current.get(role)!);
      }
      const batch: WriteOp[] = [];
      for (const [role, keyId] of Object.entries(change.activateKeys ?? {}) as [ServerKeyRole, string][]) {
        const pending = await this.getPendingServerKey(change.gun, role);
        if (pending?.keyid !== keyId) throw new StaleKeyError(role, keyId);
        batch.push(put(this.keys, roleKey(change.gun, role), JSON.stringify(pending)), del(this.pending, roleKey(change.gun, role)));
      }
      for (const file of change.files) {
        batch.push(put(this.files, fileKey(change.gun, file.role, file.version), file.text), put(this.latest, roleKey(change.gun, file.role), String(file.version)));
      }
      for (const id of change.deletePending ?? []) batch.push(del(this.staged, roleKey(change.gun, id)));
      if (change.log) await this.tagLog.addAppend(batch, change.gun, change.log);
      if (change.expectedLatest.root === 0) batch.push(put(this.collections, change.gun, new Date().toISOString()));
      await this.write(batch, change.gun, change.audit);
      for (const file of change.files) this.rememberLatest(roleKey(change.gun, file.role), file.version);
      if (change.log) this.tagLog.committed(change.gun, change.log);
    });
  }

  async getServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined> {
    const text = await this.keys.get(roleKey(gun, role));
    return text === undefined ? undefined : (JSON.parse(text) as SealedKey);
  }

  putServerKeyIfAbsent(gun: string, role: ServerKeyRole, key: SealedKey): Promise<SealedKey> {
    return this.exclusive(gun, async () => {
      const existing = await this.getServerKey(gun, role);
      if (existing) return existing;
      await this.durable.write([put(this.keys, roleKey(gun, role), JSON.stringify(key))]);
      return key;
    });
  }

  async getPendingServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined> {
    const text = await this.pending.get(roleKey(gun, role));
    return text === undefined ? undefined : (JSON.parse(text) as SealedKey);
  }

  putPendingServerKey(gun: string, role: ServerKeyRole, key: SealedKey, audit: AuditEntry): Promise<void> {
    return this.exclusive(gun, async () => {
      await this.write([put(this.pending, roleKey(gun, role), JSON.stringify(key))], gun, audit);
    });
  }

  deleteCollection(gun: string, audit: AuditEntry): Promise<boolean> {
    return this.exclusive(gun, async () => {
      if ((await this.collections.get(gun)) === undefined) return false;
      const batch: WriteOp[] = [];
      for await (const key of this.files.keys(collectionRange(gun))) batch.push(del(this.files, key));
      const latestKeys = await this.latest.keys(collectionRange(gun)).all();
      for (const key of latestKeys) batch.push(del(this.latest, key));
      for await (const key of this.staged.keys(collectionRange(gun))) batch.push(del(this.staged, key));
      for (const role of SERVER_ROLES) batch.push(del(this.keys, roleKey(gun, role)), del(this.pending, roleKey(gun, role)));
      batch.push(del(this.collections, gun));
      await this.write(batch, gun, audit);
      for (const key of latestKeys) this.rememberLatest(key, 0);
      return true;
    });
  }

  async listAudit(gun: string, after: number, limit: number): Promise<AuditRecord[]> {
    const records: AuditRecord[] = [];
    for await (const text of this.audit.values({ gt: auditKey(gun, after), lt: `${gun}${SEP}\uffff`, limit })) {
      records.push(JSON.parse(text) as AuditRecord);
    }
    return records;
  }

  putToken(token: TokenRecord, audit: AuditEntry): Promise<void> {
    return this.tokens.put(token, audit);
  }

  /** Found tokens are remembered; a revoked token is refused as soon as `deleteToken` returns (level-tokens.ts). */
  getTokenBySha256(sha256: string): Promise<TokenRecord | undefined> {
    return this.tokens.bySha256(sha256);
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.tokens.list();
  }

  recordTokenUse(name: string, time: string): Promise<void> {
    return this.tokens.recordUse(name, time);
  }

  deleteToken(name: string, audit: AuditEntry): Promise<boolean> {
    return this.tokens.delete(name, audit);
  }

  async putPending(gun: string, id: string, text: string): Promise<void> {
    await this.durable.write([put(this.staged, roleKey(gun, id), text)]);
  }

  async getPending(gun: string, id: string): Promise<string | undefined> {
    return this.staged.get(roleKey(gun, id));
  }

  async listPending(gun: string): Promise<string[]> {
    return this.staged.values({ gt: `${gun}${SEP}`, lt: `${gun}\u0001` }).all();
  }

  async deletePending(gun: string, id: string): Promise<void> {
    await this.durable.write([del(this.staged, roleKey(gun, id))]);
  }

  appendAudit(gun: string, audit: AuditEntry): Promise<void> {
    return this.exclusive(gun, () => this.write([], gun, audit));
  }

  getLogSize(gun: string): Promise<number> {
    return this.tagLog.size(gun);
  }

  getLogNodes(gun: string, ids: { level: number; index: number }[]): Promise<(string | undefined)[]> {
    return this.tagLog.getNodes(gun, ids);
  }

  getLogLeaves(gun: string, start: number, end: number): Promise<string[]> {
    return this.tagLog.getLeaves(gun, start, end);
  }

  getLoggedDigests(gun: string, tags: string[]): Promise<(string | undefined)[]> {
    return this.tagLog.getDigests(gun, tags);
  }

  /** One process holds a level database: the caller's in-process lock is all it takes. */
  withCollectionLock<T>(_gun: string, task: () => Promise<T>): Promise<T> {
    return task();
  }

  async *listCollections(): AsyncIterable<string> {
    for await (const gun of this.collections.keys()) yield gun;
  }

  /**
   * Every key (with its sublevel prefix) and value of the database, for backups. The iterator is
   * created now and reads level's implicit snapshot of this moment: one consistent cut, while
   * writes go on.
   */
  entries(): AsyncIterable<[string, string]> {
    return this.durable.db.iterator();
  }

  async close(): Promise<void> {
    await this.durable.close();
  }

  /**
   * After a reopen (durable-level.ts) the database holds every synced write, and maybe the one that
   * failed: nothing remembered about it can be trusted any more.
   */
  private forgetAll(): void {
    this.latestVersions.clear();
    this.lastAuditSeq.clear();
    this.tokens.forgetAll();
    this.tagLog.forgetAll();
  }

  private async latestVersion(gun: string, role: string): Promise<number> {
    const text = await this.latest.get(roleKey(gun, role));
    return text === undefined ? 0 : Number(text);
  }

  /**
   * Remembers a role's latest version (0: none). Only inside `exclusive` and only what this instance
   * read or wrote: every write of `latest` happens there (commit, deleteCollection), so the memory
   * stays what the database holds. Bounded; forgetting costs one read in the next commit.
   */
  private rememberLatest(key: string, version: number): void {
    setBounded(this.latestVersions, key, version, MAX_REMEMBERED_LATEST);
  }

  /**
   * Writes `batch` with the next audit record of `gun` (when given). Call only inside `exclusive`.
   * The last sequence number of each collection is remembered after a successful write: every audit
   * record of this database is written here, by this one instance (level locks the directory).
   */
  private async write(batch: WriteOp[], gun: string, entry: AuditEntry | undefined): Promise<void> {
    if (!entry) return this.durable.write(batch);
    let last = this.lastAuditSeq.get(gun);
    if (last === undefined) {
      last = 0;
      for await (const key of this.audit.keys({ ...collectionRange(gun), reverse: true, limit: 1 })) {
        last = Number(key.slice(gun.length + 1));
      }
    }
    const record: AuditRecord = { seq: last + 1, gun, ...entry };
    batch.push(put(this.audit, auditKey(gun, record.seq), JSON.stringify(record)));
    await this.durable.write(batch);
    this.lastAuditSeq.set(gun, record.seq);
  }

  /** Runs read-then-write operations on one collection (or the token table) one at a time. */
  private exclusive<T>(scope: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(scope, task);
  }
}

const put = (sublevel: Sublevel, key: string, value: string): WriteOp => ({ type: 'put', sublevel, key, value });
const del = (sublevel: Sublevel, key: string): WriteOp => ({ type: 'del', sublevel, key });
