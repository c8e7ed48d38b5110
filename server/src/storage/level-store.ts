/**
 * MetadataStore on an embedded level database (classic-level). Layout, one sublevel each:
 * - `files`:   `<gun>\0<role>\0<version, 12 digits>` -> exact metadata text
 * - `latest`:  `<gun>\0<role>` -> latest version (decimal text)
 * - `keys`:    `<gun>\0<role>` -> sealed server key JSON
 * - `collections`: `<gun>` -> ISO time of the first publish
 * - `pending`: `<gun>\0<id>` -> pending change JSON (staging area)
 * Writes of one change go into a single `batch()` across sublevels, which level applies atomically.
 */
import { Level } from 'level';
import type { SealedKey } from '@tagtrust/keys';
import type { Change, MetadataStore, ServerKeyRole, StoredFile } from './store.js';
import { StaleVersionError } from './store.js';

const SEP = '\u0000';
const fileKey = (gun: string, role: string, version: number) => `${gun}${SEP}${role}${SEP}${String(version).padStart(12, '0')}`;
const roleKey = (gun: string, role: string) => `${gun}${SEP}${role}`;

export class LevelStore implements MetadataStore {
  private readonly db: Level<string, string>;
  private readonly files;
  private readonly latest;
  private readonly keys;
  private readonly collections;
  private readonly pending;
  /** Serialises putServerKeyIfAbsent so two first requests cannot create two keys. */
  private keyWrites: Promise<unknown> = Promise.resolve();
  /** Serialises commits: the version check and the batch write must not interleave (CAS). */
  private commits: Promise<unknown> = Promise.resolve();

  private constructor(db: Level<string, string>) {
    this.db = db;
    this.files = db.sublevel<string, string>('files', { valueEncoding: 'utf8' });
    this.latest = db.sublevel<string, string>('latest', { valueEncoding: 'utf8' });
    this.keys = db.sublevel<string, string>('keys', { valueEncoding: 'utf8' });
    this.collections = db.sublevel<string, string>('collections', { valueEncoding: 'utf8' });
    this.pending = db.sublevel<string, string>('pending', { valueEncoding: 'utf8' });
  }

  /** Opens (creating if needed) the database at `location`. */
  static async open(location: string): Promise<LevelStore> {
    const db = new Level<string, string>(location, { valueEncoding: 'utf8' });
    await db.open();
    return new LevelStore(db);
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
    const write = this.commits.then(() => this.compareAndWrite(change));
    this.commits = write.catch(() => undefined);
    return write;
  }

  private async compareAndWrite(change: Change): Promise<void> {
    for (const [role, expected] of Object.entries(change.expectedLatest)) {
      const latest = await this.latestVersion(change.gun, role);
      if (latest !== expected) throw new StaleVersionError(role, expected, latest);
    }
    const batch = this.db.batch();
    for (const file of change.files) {
      batch.put(fileKey(change.gun, file.role, file.version), file.text, { sublevel: this.files });
      batch.put(roleKey(change.gun, file.role), String(file.version), { sublevel: this.latest });
    }
    for (const id of change.deletePending ?? []) batch.del(roleKey(change.gun, id), { sublevel: this.pending });
    if (change.expectedLatest.root === 0) {
      batch.put(change.gun, new Date().toISOString(), { sublevel: this.collections });
    }
    await batch.write();
  }

  async getServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined> {
    const text = await this.keys.get(roleKey(gun, role));
    return text === undefined ? undefined : (JSON.parse(text) as SealedKey);
  }

  putServerKeyIfAbsent(gun: string, role: ServerKeyRole, key: SealedKey): Promise<SealedKey> {
    const write = this.keyWrites.then(async () => {
      const existing = await this.getServerKey(gun, role);
      if (existing) return existing;
      await this.keys.put(roleKey(gun, role), JSON.stringify(key));
      return key;
    });
    this.keyWrites = write.catch(() => undefined);
    return write;
  }

  async putPending(gun: string, id: string, text: string): Promise<void> {
    await this.pending.put(roleKey(gun, id), text);
  }

  async getPending(gun: string, id: string): Promise<string | undefined> {
    return this.pending.get(roleKey(gun, id));
  }

  async listPending(gun: string): Promise<string[]> {
    return this.pending.values({ gt: `${gun}${SEP}`, lt: `${gun}\u0001` }).all();
  }

  async deletePending(gun: string, id: string): Promise<void> {
    await this.pending.del(roleKey(gun, id));
  }

  async *listCollections(): AsyncIterable<string> {
    for await (const gun of this.collections.keys()) yield gun;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async latestVersion(gun: string, role: string): Promise<number> {
    const text = await this.latest.get(roleKey(gun, role));
    return text === undefined ? 0 : Number(text);
  }
}
